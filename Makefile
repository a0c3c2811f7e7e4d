# SPDX-License-Identifier: MIT
#
# hakmem: a userspace slab allocator in the style of the Linux kernel's SLUB.
#
# Kbuild style: each directory's Kbuild file lists its objects
# (obj-y += file.o) and any flags of one object (CFLAGS_file.o := ...);
# this Makefile collects them.
#
#   make                 libhakmem.so and libhakmem.a
#   make check           build and run every test (unit, stress, programs, VM)
#   make check-scale     the VM selftests at server shape (SHAPES=a,b picks)
#   make bench           the benchmark comparison (QUICK=1 for a short run)
#   make install PREFIX=/usr/local
#   make V=1             print the commands
#   make O=dir           build out of tree
#   make ARCH=aarch64    cross-build with aarch64-linux-gnu-gcc
#
# Build-time options (Documentation/tuning.rst):
#   CONFIG_HARDENED=n    malloc and free fast paths without the free-path
#                        checks (Documentation/security.rst)
#   CONFIG_NUMA=n        build without libnuma (one pool; fake nodes work)
#   CONFIG_RCU=n         build without liburcu: no hak_free_rcu(),
#                        hak_cache_free_rcu(), hak_rcu_barrier() (a program
#                        using them fails to link), and
#                        HAK_SLAB_TYPESAFE_BY_RCU is refused (EINVAL); the
#                        default is y, or for a cross build y only when
#                        SYSROOT has <urcu.h>
#   CONFIG_DEBUG=y       -O0, extra assertions
#   CONFIG_SANITIZE=...  address,undefined or thread: instrumented build
#   SYSROOT=dir          headers and libraries (libnuma) of the target,
#                        for cross builds

VERSION		:= 0.1.0
HOSTARCH	:= $(shell uname -m)
ARCH		?= $(HOSTARCH)
ifneq ($(ARCH),$(HOSTARCH))
CROSS_COMPILE	?= $(ARCH)-linux-gnu-
endif
CC		:= $(CROSS_COMPILE)gcc
AR		:= $(CROSS_COMPILE)ar
PREFIX		?= /usr/local

srctree		:= $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
O		?= $(srctree)
objtree		:= $(abspath $(O))

ifeq ($(V),1)
Q		:=
quiet		:= @true
else
Q		:= @
quiet		:= @printf '  %-7s %s\n'
endif

CONFIG_HARDENED	?= y
CONFIG_NUMA	?= y
CONFIG_DEBUG	?= n
ifeq ($(ARCH),$(HOSTARCH))
CONFIG_RCU	?= y
else
CONFIG_RCU	?= $(if $(and $(SYSROOT),$(wildcard $(SYSROOT)/usr/include/urcu.h)),y,n)
endif
CONFIG_SANITIZE	?=
SYSROOT		?=

OPTFLAGS	:= -O2
ifeq ($(CONFIG_DEBUG),y)
OPTFLAGS	:= -O0 -DHAK_DEBUG
endif
SANFLAGS	:= $(if $(CONFIG_SANITIZE),-fsanitize=$(CONFIG_SANITIZE) -fno-omit-frame-pointer)
CONFIGFLAGS	:= $(if $(filter y,$(CONFIG_HARDENED)),-DCONFIG_HARDENED) \
		   $(if $(filter y,$(CONFIG_RCU)),-DCONFIG_RCU)

CFLAGS		?=
SYSFLAGS	:= $(if $(SYSROOT),-I$(SYSROOT)/usr/include)
SYSLIBDIR	:= $(if $(SYSROOT),-L$(SYSROOT)/usr/lib/$(ARCH)-linux-gnu)
NUMA_LIBS	:= $(if $(filter y,$(CONFIG_NUMA)),-lnuma)
# liburcu's default flavour (urcu-memb); -lurcu-common for static links
RCU_LIBS	:= $(if $(filter y,$(CONFIG_RCU)),-lurcu -lurcu-common)

KBUILD_CFLAGS	:= -std=gnu11 $(OPTFLAGS) -g -fPIC -fno-plt -pthread \
		   -Wall -Wextra -Werror -fvisibility=hidden \
		   -D_GNU_SOURCE -I$(srctree)/include $(SYSFLAGS) $(SANFLAGS) \
		   $(CONFIGFLAGS) $(CFLAGS)
KBUILD_LDFLAGS	:= -pthread $(SYSLIBDIR) $(SANFLAGS) $(LDFLAGS)
# what a program linking libhakmem.a needs besides it (libhakmem.so loads
# libnuma itself, on machines with more than one node: numa/numa_dlopen.c)
LIB_A_LIBS	:= $(NUMA_LIBS) $(RCU_LIBS) -pthread

# ---- collect the objects listed by each directory's Kbuild ----------------

# obj-y: both libraries; obj-so-y: libhakmem.so only; obj-a-y: libhakmem.a
# only.
define collect-dir
obj-y :=
obj-so-y :=
obj-a-y :=
include $(srctree)/$(1)/Kbuild
lib-objs += $$(addprefix $(objtree)/$(1)/,$$(obj-y))
so-objs += $$(addprefix $(objtree)/$(1)/,$$(obj-so-y))
a-objs += $$(addprefix $(objtree)/$(1)/,$$(obj-a-y))
endef

lib-objs	:=
so-objs		:=
a-objs		:=
$(foreach d,core numa arch,$(eval $(call collect-dir,$(d))))

LIB_SO		:= $(objtree)/libhakmem.so
LIB_A		:= $(objtree)/libhakmem.a

.PHONY: all check bench install clean
all: $(LIB_SO) $(LIB_A)

# Every object depends on the flags it was built with: changing an option
# (CONFIG_HARDENED=n, say) in the same tree rebuilds everything.
CONFIG_STAMP	:= $(objtree)/.build-flags
$(CONFIG_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(KBUILD_CFLAGS)' | cmp -s - $@ || echo '$(KBUILD_CFLAGS)' > $@

.PHONY: FORCE
FORCE:

$(objtree)/%.o: $(srctree)/%.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(quiet) CC $(patsubst $(objtree)/%,%,$@)
	$(Q)$(CC) $(KBUILD_CFLAGS) $(CFLAGS_$(notdir $@)) -MMD -MP -c -o $@ $<

$(LIB_SO): $(lib-objs) $(so-objs)
	$(quiet) LD $(notdir $@)
	$(Q)$(CC) -shared -Wl,-soname,libhakmem.so -Wl,-z,now -o $@ $(lib-objs) $(so-objs) $(KBUILD_LDFLAGS)

$(LIB_A): $(lib-objs) $(a-objs)
	$(quiet) AR $(notdir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $(lib-objs) $(a-objs)

-include $(lib-objs:.o=.d) $(so-objs:.o=.d) $(a-objs:.o=.d)

# ---- tests and benchmarks --------------------------------------------------

include $(srctree)/selftests/selftests.mk
include $(srctree)/bench/bench.mk

# ---- install ---------------------------------------------------------------

install: all
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/hakmem \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	$(Q)install -m 0755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m 0644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	$(Q)install -m 0644 $(srctree)/include/hakmem/hakmem.h \
		$(DESTDIR)$(PREFIX)/include/hakmem/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@NUMA_LIBS@|$(NUMA_LIBS) $(RCU_LIBS)|' \
		$(srctree)/scripts/hakmem.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/hakmem.pc
	$(quiet) INSTALL $(DESTDIR)$(PREFIX)

clean:
	$(Q)rm -rf $(LIB_SO) $(LIB_A) $(CONFIG_STAMP) $(addprefix $(objtree)/,core numa arch) \
		$(objtree)/selftests/build $(objtree)/bench/build
