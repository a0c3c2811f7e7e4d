# SPDX-License-Identifier: MIT
# Benchmarks: bench/Kbuild lists the programs; `make bench` builds them and
# runs bench/run.sh (QUICK=1 for the short suite). Timings live here only,
# never in the tests.
#   bench-y        plain programs, peers swapped in with LD_PRELOAD
#   bench-embed-y  built twice: NAME-hak (static libhakmem.a, hak_* API)
#                  and NAME-libc (plain malloc)

bench-y		:=
bench-embed-y	:=
include $(srctree)/bench/Kbuild

bbuild		:= $(objtree)/bench/build
BENCH_CFLAGS	:= -std=gnu11 -O2 -g -pthread -Wall -Wextra -Werror \
		   -D_GNU_SOURCE -I$(srctree)/include
bench-bins	:= $(addprefix $(bbuild)/,$(bench-y)) \
		   $(foreach p,$(bench-embed-y),$(bbuild)/$(p)-hak $(bbuild)/$(p)-libc)
bench-hdrs	:= $(wildcard $(srctree)/bench/*.h)

$(bbuild)/%-hak: $(srctree)/bench/%.c $(LIB_A) $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -DBENCH_HAKMEM -o $@ $< $(LIB_A) $(LIB_A_LIBS) -lm

$(bbuild)/%-libc: $(srctree)/bench/%.c $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -pthread -lm

$(bbuild)/%: $(srctree)/bench/%.c $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -pthread -lm

.PHONY: bench-progs
bench-progs: $(bench-bins)

bench: all bench-progs
	$(Q)$(srctree)/bench/run.sh --bindir $(bbuild) --lib $(LIB_SO) $(if $(QUICK),--quick)
