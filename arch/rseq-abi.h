/* SPDX-License-Identifier: MIT */
/*
 * The kernel's rseq ABI (include/uapi/linux/rseq.h), with the fields Linux
 * 6.3 added (node_id, mm_cid), written once for the whole tree: the
 * per-CPU mode (core/percpu.c) registers and reads it, the topology
 * (numa/topology.h) reads the CPU and node fields, and the critical
 * sections (arch/<arch>/rseq.h) store into rseq_cs. The kernel owns
 * cpu_id_start, cpu_id, node_id and mm_cid: hakmem only reads them.
 *
 * Which fields the running kernel fills is told by the auxiliary vector
 * (AT_RSEQ_FEATURE_SIZE), not by glibc's __rseq_size (glibc 2.36 says 20
 * while the kernel fills 28 bytes): compare it with the *_END offsets.
 */
#ifndef HAK_ARCH_RSEQ_ABI_H
#define HAK_ARCH_RSEQ_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif

/* cpu_id of an area the kernel has not registered (or could not). */
#define RSEQ_ABI_CPU_ID_UNINITIALIZED		((uint32_t)-1)
#define RSEQ_ABI_CPU_ID_REGISTRATION_FAILED	((uint32_t)-2)

struct rseq_abi {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
	uint32_t pad;
} __attribute__((aligned(32)));

#define RSEQ_ABI_CPU_ID		offsetof(struct rseq_abi, cpu_id)
#define RSEQ_ABI_RSEQ_CS	offsetof(struct rseq_abi, rseq_cs)
#define RSEQ_ABI_NODE_ID	offsetof(struct rseq_abi, node_id)
#define RSEQ_ABI_MM_CID		offsetof(struct rseq_abi, mm_cid)
/* feature sizes that include each of the 6.3 fields */
#define RSEQ_ABI_NODE_ID_END	(RSEQ_ABI_NODE_ID + sizeof(uint32_t))
#define RSEQ_ABI_MM_CID_END	(RSEQ_ABI_MM_CID + sizeof(uint32_t))

_Static_assert(RSEQ_ABI_CPU_ID == 4, "rseq ABI: cpu_id");
_Static_assert(RSEQ_ABI_RSEQ_CS == 8, "rseq ABI: rseq_cs");
_Static_assert(RSEQ_ABI_NODE_ID == 20, "rseq ABI: node_id");
_Static_assert(RSEQ_ABI_MM_CID == 24, "rseq ABI: mm_cid");
_Static_assert(sizeof(struct rseq_abi) == 32, "rseq ABI: area size");

#endif /* HAK_ARCH_RSEQ_ABI_H */
