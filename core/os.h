/* SPDX-License-Identifier: MIT */
/*
 * The only file that maps, unmaps and advises memory. Policy code calls
 * these wrappers, never mmap() itself.
 */
#ifndef HAK_OS_H
#define HAK_OS_H

#include <stddef.h>
#include <stdint.h>

#define HAK_PAGE_SIZE	4096UL

void *os_map(size_t len);
void *os_map_aligned(size_t len, size_t align);
void os_unmap(void *p, size_t len);
void *os_remap(void *old, size_t old_len, size_t len, void *fixed);
void *os_remap_aligned(void *old, size_t old_len, size_t len, size_t align);
int os_move(void *src, size_t len, void *dst);
void os_purge(void *p, size_t len);
void os_purge_lazy(void *p, size_t len);
int os_populate(void *p, size_t len);
uint64_t os_populate_calls(void);
uint64_t os_now_ms(void);
void os_protect(void *p, size_t len, int none);
void os_hugepage(void *p, size_t len, int on);
int os_anon_huge_kb(long *kb);
uint64_t os_mapped_bytes(void);

#endif /* HAK_OS_H */
