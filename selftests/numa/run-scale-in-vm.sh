#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the server-shape VMs of selftests/vm/run-scale.sh (busybox
# sh). HAKMEM_SCALE_SET picks the programs:
#   scale     (default) the NUMA selftests, numa_test placement, the rseq
#             param tests, the cross-thread stress test and the CPU-set
#             test (hotplug, then affinity in the cpu_id and mm_cid modes)
#   fullnode  numa_test fullnode 1 MIB (node 1 is the small one)
# Each program's time (guest clock, /proc/uptime) is printed as
# "# time NAME SECONDS". Exit 0 when everything passed.
st=0
now() {
	cut -d' ' -f1 /proc/uptime
}
run() {
	name=$1
	shift
	echo "# \$ $*"
	t0=$(now)
	"$@"
	rc=$?
	t1=$(now)
	echo "# time $name $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') rc=$rc"
	case $rc in
	0 | 4) ;;
	*) st=1 ;;
	esac
}
# starved vCPUs are no hung tasks (kernel messages only, but slow to print)
[ -w /proc/sys/kernel/hung_task_timeout_secs ] &&
	echo 0 >/proc/sys/kernel/hung_task_timeout_secs
# no automatic NUMA balancing (run-scale.sh asks on the command line too)
[ -w /proc/sys/kernel/numa_balancing ] &&
	echo 0 >/proc/sys/kernel/numa_balancing
nodes=${HAKMEM_VM_NODES:-2}
cpus=$((nodes * ${HAKMEM_VM_CPUS_PER_NODE:-1}))
# Threads of param_test, xthread and cpuset: one per CPU up to 16. More
# busy vCPUs than that on two host cores only add time: each thread
# start, mapping and TLB shootdown waits for descheduled vCPUs (64
# threads in a 32-vCPU VM: a tenth of param_test's allocator test took
# 4 minutes). param_test's bouncing and cpuset's CPU-set changes still
# move threads over all CPUs; numa_test placement keeps one thread per
# CPU.
threads=$cpus
[ "$threads" -gt "${HAKMEM_SCALE_THREADS:-16}" ] &&
	threads=${HAKMEM_SCALE_THREADS:-16}
last=$((nodes - 1))
echo "# $nodes nodes, $cpus CPUs, $threads threads;" \
	"numa_balancing $(cat /proc/sys/kernel/numa_balancing 2>/dev/null)"

case ${HAKMEM_SCALE_SET:-scale} in
fullnode)
	run fullnode ./numa_test fullnode 1 "${HAKMEM_SCALE_MIB:-192}"
	;;
*)
	run numa-local ./numa_test local "$nodes"
	run numa-membind numactl --membind=$last ./numa_test membind $last
	run numa-preferred numactl --preferred=$last ./numa_test preferred $last
	run numa-cpunodebind numactl --cpunodebind=$last ./numa_test cpunodebind $last
	run numa-interleave numactl --interleave=all ./numa_test interleave "$nodes"
	run numa-placement ./numa_test placement "$nodes"
	run param_test ./param_test -t "$threads" -r 500
	run xthread ./xthread -t "$threads" -n 2000 -f 2
	run cpuset-hotplug ./cpuset -H -t "$threads" -n 2000
	run cpuset-affinity ./cpuset -t "$threads" -n 2000
	run cpuset-affinity-mm_cid env HAKMEM_CPU_ID=mm_cid ./cpuset -t "$threads" -n 2000
	;;
esac
exit $st
