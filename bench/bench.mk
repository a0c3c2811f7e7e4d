# SPDX-License-Identifier: MIT
# Benchmarks: bench/Kbuild lists the programs; `make bench` builds them and
# runs bench/run.sh (QUICK=1 for the short suite). Timings live here only,
# never in the tests.
#   bench-y        plain programs, peers swapped in with LD_PRELOAD
#                  (NAME.c, or NAME.cc built with $(CXX))
#   bench-embed-y  built twice: NAME-hak (static libhakmem.a, hak_* API)
#                  and NAME-libc (plain malloc)
# A second libhakmem.so built with CONFIG_HARDENED=n (out of tree, in
# $(bbuild)/nohard) is the report's hakmem-nohard column.

bench-y		:=
bench-embed-y	:=
include $(srctree)/bench/Kbuild

bbuild		:= $(objtree)/bench/build
BENCH_CFLAGS	:= -std=gnu11 -O2 -g -pthread -Wall -Wextra -Werror \
		   -D_GNU_SOURCE -I$(srctree)/include
bench-bins	:= $(addprefix $(bbuild)/,$(bench-y)) \
		   $(foreach p,$(bench-embed-y),$(bbuild)/$(p)-hak $(bbuild)/$(p)-libc)
bench-hdrs	:= $(wildcard $(srctree)/bench/*.h)
CXX		:= $(CROSS_COMPILE)g++
BENCH_CXXFLAGS	:= -std=gnu++23 -fsized-deallocation -O2 -g -pthread -Wall \
		   -Wextra -Werror -D_GNU_SOURCE -I$(srctree)/include
BENCH_NOHARD	:= $(bbuild)/nohard
LIB_SO_NOHARD	:= $(BENCH_NOHARD)/libhakmem.so

$(bbuild)/%-hak: $(srctree)/bench/%.c $(LIB_A) $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) $(CONFIGFLAGS) -DBENCH_HAKMEM -o $@ $< $(LIB_A) $(LIB_A_LIBS) -lm

$(bbuild)/%-libc: $(srctree)/bench/%.c $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -pthread -lm

$(bbuild)/%: $(srctree)/bench/%.c $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -pthread -lm

$(bbuild)/%: $(srctree)/bench/%.cc $(bench-hdrs)
	@mkdir -p $(dir $@)
	$(quiet) CXX $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -o $@ $< -pthread -lm

# The CONFIG_HARDENED=n library and the embedding programs linked with
# it: a sub-make of this tree with its own objtree, run every time (it
# rebuilds only what changed).
.PHONY: bench-nohard
bench-nohard:
	$(Q)$(MAKE) --no-print-directory -C $(srctree) O=$(BENCH_NOHARD) \
		CONFIG_HARDENED=n $(LIB_SO_NOHARD) \
		$(foreach p,$(bench-embed-y),$(BENCH_NOHARD)/bench/build/$(p)-hak)

.PHONY: bench-progs
bench-progs: $(bench-bins)

bench: all bench-progs bench-nohard
	$(Q)$(srctree)/bench/run.sh --bindir $(bbuild) --lib $(LIB_SO) \
		--lib-nohard $(LIB_SO_NOHARD) \
		--bindir-nohard $(BENCH_NOHARD)/bench/build $(if $(QUICK),--quick)
