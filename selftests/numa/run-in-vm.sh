#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the VMs of selftests/vm (busybox sh): the NUMA selftest under
# each numactl policy and the CPU hotplug test, then (on aarch64) the unit
# and rseq selftests.
# Exit 0 when everything passed.
st=0
run() {
	echo "# \$ $*"
	"$@" || st=1
}
nodes=${HAKMEM_VM_NODES:-2}
last=$((nodes - 1))
run ./numa_test local "$nodes"
run numactl --membind=$last ./numa_test membind $last
run numactl --preferred=$last ./numa_test preferred $last
run numactl --cpunodebind=$last ./numa_test cpunodebind $last
run numactl --interleave=all ./numa_test interleave "$nodes"
run ./numa_test nodealloc "$nodes"
# CPUs offline and online again while threads allocate (root in the VM)
[ -x ./cpuset ] && run ./cpuset -H -n 2000
# emulated CPUs are slow: give Check's per-test timeouts room
export CK_TIMEOUT_MULTIPLIER=20
for t in ./test_*; do
	[ -x "$t" ] && run "$t"
done
[ -x ./param_test ] && run ./param_test -t 8 -r 5000
[ -x ./xthread ] && run ./xthread -t 4 -n 20000 -f 5
exit $st
