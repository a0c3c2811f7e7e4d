// SPDX-License-Identifier: MIT
/*
 * The C++ operator new and operator delete family, written in C under the
 * Itanium C++ ABI's mangled names (the 20 that libstdc++, tcmalloc and
 * jemalloc export), in libhakmem.so and libhakmem.a alike.
 *
 * The success path of new is malloc()'s fast path (its bin pop) and
 * delete (plain and sized) is free()'s, both inlined: a C++ program pays
 * what a C one does.
 * Only a failed allocation leaves C: it runs the standard's new-handler
 * loop through std::get_new_handler() and throws std::bad_alloc through
 * std::__throw_bad_alloc(). Both are referenced weakly, so the library
 * needs no libstdc++ and a C program does not load it; a C++ program has
 * it loaded already. The unit is built with -fexceptions (core/Kbuild):
 * an exception from a new-handler unwinds through these frames.
 *
 * Mangled names (size_t is "m", unsigned long, on both architectures):
 *   _Znwm  new        _Znam  new[]      ...RKSt9nothrow_t  nothrow form
 *   _ZdlPv delete     _ZdaPv delete[]   ...St11align_val_t aligned form
 *   _ZdlPvm / _ZdaPvm sized delete
 */
#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"
#include "free.h"
#include "malloc_fast.h"
#include "report.h"
#include "hakmem/hakmem.h"

typedef void (*new_handler_fn)(void);

/* std::get_new_handler() and std::__throw_bad_alloc(), from libstdc++ */
extern new_handler_fn _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* What the std::nothrow_t and std::align_val_t arguments are in C. */
struct nothrow;
typedef size_t align_val;

void *_Znwm(size_t size);
void *_ZnwmRKSt9nothrow_t(size_t size, const struct nothrow *nt);
void *_ZnwmSt11align_val_t(size_t size, align_val align);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, align_val align,
					 const struct nothrow *nt);
void _ZdlPv(void *ptr);
void _ZdlPvm(void *ptr, size_t size);
void _ZdlPvRKSt9nothrow_t(void *ptr, const struct nothrow *nt);
void _ZdlPvSt11align_val_t(void *ptr, align_val align);
void _ZdlPvmSt11align_val_t(void *ptr, size_t size, align_val align);
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *ptr, align_val align,
					 const struct nothrow *nt);

/*
 * An aligned request: hak_aligned_alloc(), which takes any power of two;
 * a size of 0 gets one byte, as libstdc++ does, for a unique pointer.
 */
static void *new_aligned(size_t size, align_val align)
{
	return hak_aligned_alloc(align, size ? size : 1);
}

/* No memory: throw std::bad_alloc, or give NULL for a nothrow form. */
static __cold __noinline void *new_bad_alloc(bool nothrow)
{
	if (nothrow)
		return NULL;
	if (_ZSt17__throw_bad_allocv)
		_ZSt17__throw_bad_allocv();
	report_fatal("operator new: out of memory, and no libstdc++ to throw std::bad_alloc");
}

/**
 * new_failed() - the allocation failed: the standard's new-handler loop
 * @size: bytes wanted
 * @align: the alignment of an aligned form (a power of two), 0 for the
 *         others
 * @nothrow: whether to return NULL instead of throwing std::bad_alloc
 *
 * While std::get_new_handler() gives a handler, call it and try again; it
 * may make memory available, uninstall itself, throw std::bad_alloc or
 * end the program. With no handler left, throw std::bad_alloc, or return
 * NULL for a nothrow form.
 *
 * C cannot catch: a handler that throws from a nothrow form's call sends
 * its exception to that call's caller, where libstdc++ would return NULL.
 *
 * Return: the memory, or NULL for a nothrow form.
 */
static __cold __noinline void *new_failed(size_t size, align_val align,
					  bool nothrow)
{
	new_handler_fn handler;
	void *p;

	for (;;) {
		handler = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() :
						    NULL;
		if (!handler)
			break;
		handler();
		p = align ? new_aligned(size, align) : hak_malloc(size);
		if (p)
			return p;
	}
	return new_bad_alloc(nothrow);
}

/* ---- new and new[] -------------------------------------------------------- */

/* The bins missed or the size is huge: hak_malloc(), then the handler loop. */
static __noinline void *new_slow(size_t size, bool nothrow)
{
	void *p = hak_malloc(size);

	if (likely(p))
		return p;
	return new_failed(size, 0, nothrow);
}

/*
 * malloc_fast()'s hit path (core/malloc_fast.h), and everything else in
 * new_slow(). Not malloc_fast() itself: its miss path returns here, and
 * the failure check after it would keep @size in a saved register, a push
 * and a pop on every hit. A miss tries the bin once more in hak_malloc().
 */
static __always_inline void *new_fast(size_t size, bool nothrow)
{
	void *p = NULL;

	if (likely(size <= HAK_LUT_MAX))
		p = malloc_pop(class_lut[(size + 7) >> 3]);
	else if (likely(size <= HAK_MAX_CLASS_SIZE))
		p = malloc_pop(size_to_class_big(size));
	if (likely(p))
		return p;
	return new_slow(size, nothrow);
}

/*
 * Starts a cache line, as malloc() does (core/preload.c), so that its hit
 * path keeps the same fetch blocks whatever code comes before it.
 */
HAK_EXPORT __attribute__((aligned(64))) void *_Znwm(size_t size)
{
	return new_fast(size, false);
}

HAK_EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const struct nothrow *nt)
{
	(void)nt;
	return new_fast(size, true);
}

HAK_EXPORT void *_ZnwmSt11align_val_t(size_t size, align_val align)
{
	void *p = new_aligned(size, align);

	if (likely(p))
		return p;
	if (unlikely(!is_pow2(align)))	/* no retry can help */
		return new_bad_alloc(false);
	return new_failed(size, align, false);
}

HAK_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size,
						    align_val align,
						    const struct nothrow *nt)
{
	void *p = new_aligned(size, align);

	(void)nt;
	if (likely(p))
		return p;
	if (unlikely(!is_pow2(align)))
		return NULL;
	return new_failed(size, align, true);
}

/* new[] is new: the same code under the array names. */
HAK_EXPORT void *_Znam(size_t size) __attribute__((alias("_Znwm")));
HAK_EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const struct nothrow *nt)
	__attribute__((alias("_ZnwmRKSt9nothrow_t")));
HAK_EXPORT void *_ZnamSt11align_val_t(size_t size, align_val align)
	__attribute__((alias("_ZnwmSt11align_val_t")));
HAK_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size,
						    align_val align,
						    const struct nothrow *nt)
	__attribute__((alias("_ZnwmSt11align_val_tRKSt9nothrow_t")));

/* ---- delete and delete[] -------------------------------------------------- */

/*
 * delete and sized delete are free() (core/preload.c), on a cache line
 * each. The size is not needed: the object's slab knows its class, and
 * free_fast() checks the pointer the same way whatever size is claimed.
 */
HAK_EXPORT __attribute__((aligned(64))) void _ZdlPv(void *ptr)
{
	free_fast(ptr, 0);
}

HAK_EXPORT __attribute__((aligned(64))) void _ZdlPvm(void *ptr, size_t size)
{
	(void)size;
	free_fast(ptr, 0);
}

/* The rarer forms: hak_free(), a jump away. */
HAK_EXPORT void _ZdlPvRKSt9nothrow_t(void *ptr, const struct nothrow *nt)
{
	(void)nt;
	hak_free(ptr);
}

HAK_EXPORT void _ZdlPvSt11align_val_t(void *ptr, align_val align)
{
	(void)align;
	hak_free(ptr);
}

HAK_EXPORT void _ZdlPvmSt11align_val_t(void *ptr, size_t size, align_val align)
{
	(void)size;
	(void)align;
	hak_free(ptr);
}

HAK_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *ptr, align_val align,
						    const struct nothrow *nt)
{
	(void)align;
	(void)nt;
	hak_free(ptr);
}

/* delete[] is delete. */
HAK_EXPORT void _ZdaPv(void *ptr) __attribute__((alias("_ZdlPv")));
HAK_EXPORT void _ZdaPvm(void *ptr, size_t size)
	__attribute__((alias("_ZdlPvm")));
HAK_EXPORT void _ZdaPvRKSt9nothrow_t(void *ptr, const struct nothrow *nt)
	__attribute__((alias("_ZdlPvRKSt9nothrow_t")));
HAK_EXPORT void _ZdaPvSt11align_val_t(void *ptr, align_val align)
	__attribute__((alias("_ZdlPvSt11align_val_t")));
HAK_EXPORT void _ZdaPvmSt11align_val_t(void *ptr, size_t size, align_val align)
	__attribute__((alias("_ZdlPvmSt11align_val_t")));
HAK_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *ptr, align_val align,
						    const struct nothrow *nt)
	__attribute__((alias("_ZdlPvSt11align_val_tRKSt9nothrow_t")));
