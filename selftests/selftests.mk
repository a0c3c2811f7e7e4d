# SPDX-License-Identifier: MIT
# Tests, all run by `make check` through scripts/run-tests.sh:
#   selftests/unit/test_*.c    Check unit tests, linked with libhakmem.a
#   selftests/stress/*.c       kselftest-style TAP programs (libhakmem.a)
#   selftests/cxx/*.cc         C++ TAP programs, built twice: NAME-static
#                              linked with libhakmem.a, NAME with nothing of
#                              hakmem's, run under LD_PRELOAD=libhakmem.so
#   selftests/preload/         real programs under LD_PRELOAD=libhakmem.so;
#                              footprint.c, the peak RSS of a tiny program
#   selftests/vm/              NUMA and aarch64 selftests in qemu VMs
# CHECK_VM=0 skips the VM tests; CHECK_PROGRAMS=0 the real programs.

CHECK_CFLAGS	:= $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS	:= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)
TEST_CFLAGS	:= -std=gnu11 $(OPTFLAGS) -g -pthread -Wall -Wextra -Werror \
		   -D_GNU_SOURCE -I$(srctree)/include $(SYSFLAGS) $(SANFLAGS) \
		   $(CONFIGFLAGS)
TEST_LDFLAGS	?=
tbuild		:= $(objtree)/selftests/build

unit-tests	:= $(basename $(notdir $(wildcard $(srctree)/selftests/unit/test_*.c)))
unit-bins	:= $(addprefix $(tbuild)/unit/,$(unit-tests))
stress-tests	:= $(basename $(notdir $(wildcard $(srctree)/selftests/stress/*.c)))
rseq-tests	:= $(basename $(notdir $(wildcard $(srctree)/selftests/rseq/*.c)))
stress-bins	:= $(addprefix $(tbuild)/stress/,$(stress-tests)) $(addprefix $(tbuild)/rseq/,$(rseq-tests))

$(tbuild)/unit/%: $(srctree)/selftests/unit/%.c $(LIB_A) $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(LIB_A) $(CHECK_LIBS) $(KBUILD_LDFLAGS) $(LIB_A_LIBS) $(TEST_LDFLAGS)

$(tbuild)/stress/%: $(srctree)/selftests/stress/%.c $(LIB_A) $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -o $@ $< $(LIB_A) $(KBUILD_LDFLAGS) $(LIB_A_LIBS) $(TEST_LDFLAGS)

$(tbuild)/rseq/%: $(srctree)/selftests/rseq/%.c $(LIB_A) $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -o $@ $< $(LIB_A) $(KBUILD_LDFLAGS) $(LIB_A_LIBS) $(TEST_LDFLAGS)

TEST_CXXFLAGS	:= -std=gnu++17 $(OPTFLAGS) -g -pthread -Wall -Wextra -Werror \
		   -D_GNU_SOURCE -I$(srctree)/include $(SYSFLAGS) $(SANFLAGS)
CXX		:= $(CROSS_COMPILE)g++
cxx-tests	:= $(basename $(notdir $(wildcard $(srctree)/selftests/cxx/*.cc)))
cxx-bins	:= $(addprefix $(tbuild)/cxx/,$(cxx-tests) $(addsuffix -static,$(cxx-tests)))

$(tbuild)/cxx/%-static: $(srctree)/selftests/cxx/%.cc $(LIB_A) $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CXX $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CXX) $(TEST_CXXFLAGS) -DHAK_STATIC -o $@ $< $(LIB_A) $(KBUILD_LDFLAGS) $(LIB_A_LIBS) $(TEST_LDFLAGS)

$(tbuild)/cxx/%: $(srctree)/selftests/cxx/%.cc $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CXX $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CXX) $(TEST_CXXFLAGS) -o $@ $< $(KBUILD_LDFLAGS) $(TEST_LDFLAGS)

numa-bins	:= $(tbuild)/numa/numa_test

$(tbuild)/numa/%: $(srctree)/selftests/numa/%.c $(LIB_A) $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -o $@ $< $(LIB_A) $(KBUILD_LDFLAGS) $(LIB_A_LIBS) $(TEST_LDFLAGS)

.PHONY: selftests
selftests: $(unit-bins) $(stress-bins) $(numa-bins)

# Programs with nothing of hakmem's, run under LD_PRELOAD by the test
# itself (selftests/preload/footprint.c): dynamic, uninstrumented.
preload-bins	:= $(tbuild)/preload/footprint

$(tbuild)/preload/%: $(srctree)/selftests/preload/%.c $(wildcard $(srctree)/selftests/lib/*.h)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) -std=gnu11 $(OPTFLAGS) -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

.PHONY: preload-selftests
preload-selftests: $(preload-bins)

# Apart: the VM test builds (selftests/numa/build-vm-tests.sh) make
# `selftests` static and for aarch64, with no C++ cross compiler.
.PHONY: cxx-selftests
cxx-selftests: $(cxx-bins)

# ASan+UBSan, TSan and valgrind runs of the selftests and a bounded
# libFuzzer run (FUZZ_SECONDS, default 60); CI runs it after `make check`.
.PHONY: check-full
check-full:
	$(Q)$(srctree)/scripts/check-full.sh --srctree $(srctree) \
		--builddir $(objtree)/selftests/full

# The NUMA, rseq, cross-thread and CPU-set selftests in qemu VMs of server
# shape (selftests/vm/run-scale.sh; times in Documentation/testing.rst).
.PHONY: check-scale
check-scale:
	$(Q)$(srctree)/selftests/vm/run-scale.sh --srctree $(srctree) \
		--builddir $(objtree)/selftests/scale $(if $(SHAPES),--shapes $(SHAPES))

check: all selftests cxx-selftests preload-selftests
	$(Q)$(srctree)/scripts/run-tests.sh --srctree $(srctree) \
		--builddir $(tbuild) --lib $(LIB_SO)
