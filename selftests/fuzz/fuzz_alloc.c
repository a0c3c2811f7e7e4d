// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the hak_* API.
 *
 * The input is a sequence of operations (malloc family, object caches,
 * trim) with sizes and alignments drawn from the input and biased toward
 * the size-class boundaries. A shadow model keeps every live allocation
 * (pointer, requested size, usable size, fill byte) and checks after each
 * operation:
 *   - a sane request gives a non-NULL pointer, an absurd one NULL + ENOMEM,
 *     a bad alignment NULL + EINVAL;
 *   - alignment: 8 for requests of 8 bytes or less, 16 above, and the
 *     requested alignment for the aligned calls and caches;
 *   - hak_malloc_usable_size() >= the request, and stable while live;
 *   - no two live allocations overlap ([p, p + usable) ranges, kept sorted);
 *   - calloc memory is zero; realloc keeps the contents;
 *   - the fill pattern written over [p, p + usable) is intact when the
 *     object is freed, after hak_trim() and after hak_cache_shrink()
 *     (objects above 16 KiB: their ends and a sample of every page);
 *   - objects of a cache with a constructor come out constructed, and the
 *     constructor never runs on a live object;
 *   - after freeing everything (and hak_trim() to flush the fast-path
 *     caches), no kmalloc object and no huge mapping is left active: a
 *     leak in the allocator or in its accounting.
 * Every input frees what it allocated and destroys its caches, so inputs
 * are independent. Invalid frees are never done (they abort by design).
 *
 * The allocator uses mmap for its memory, so ASan does not track hak_*
 * objects; it instruments the allocator code, the model checks the objects.
 *
 * Build (the allocator's sources compiled in, so they are instrumented
 * too; the source list is every obj-y of core/, numa/ and arch/ Kbuild):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *         -std=gnu11 -pthread -Iinclude selftests/fuzz/fuzz_alloc.c \
 *         SOURCES -o fuzz_alloc
 * scripts/check-full.sh does this.
 * Run:
 *   ./fuzz_alloc -max_total_time=60 corpus-copy/ selftests/fuzz/corpus/
 * Replay a crash with every call printed:
 *   FUZZ_TRACE=1 ./fuzz_alloc crash-FILE
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem/hakmem.h"

#define MAX_LIVE	512
#define MAX_BYTES	(32UL << 20)	/* live bytes per input */
#define MAX_CACHES	4
#define NR_CLASS_SIZES	53

static const size_t class_sizes[NR_CLASS_SIZES] = {
	8, 16, 32, 48, 64, 80, 96, 112,
	128, 160, 192, 224, 256, 320, 384, 448,
	512, 640, 768, 896, 1024, 1280, 1536, 1792,
	2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168,
	8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672,
	32768, 40960, 49152, 57344, 65536, 81920, 98304, 114688,
	131072, 163840, 196608, 229376, 262144,
};

/* ---- input reader -------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t get8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t get16(struct input *in)
{
	return (uint16_t)(get8(in) | get8(in) << 8);
}

/* ---- failure reporting --------------------------------------------------- */

static unsigned long op_count;

#define FAIL(...) do {							\
	fprintf(stderr, "fuzz_alloc: op %lu: ", op_count);		\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	abort();							\
} while (0)

#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* FUZZ_TRACE=1: print every call, to turn a crashing input into a program */
static int trace;

#define TRACE(...) do {							\
	if (trace) {							\
		fprintf(stderr, "op %lu: ", op_count);			\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
	}								\
} while (0)

/* ---- shadow model -------------------------------------------------------- */

enum kind { K_MALLOC, K_CACHE };

struct obj {
	uint8_t *p;
	size_t size;		/* requested */
	size_t usable;		/* bytes we own and fill */
	size_t ausable;		/* hak_malloc_usable_size() */
	uint8_t fill;
	uint8_t kind;
	uint8_t slot;		/* cache slot for K_CACHE */
};

/* Sorted by address: overlap checks against the two neighbours. */
static struct obj live[MAX_LIVE];
static unsigned int nlive;
static size_t live_bytes;

struct fcache {
	struct hak_cache *c;
	size_t size;
	size_t align;		/* the alignment every object must have */
	int has_ctor;
	uint8_t ctor_fill;
	unsigned int nobj;
};

static struct fcache caches[MAX_CACHES];
static uint8_t gen;

/*
 * The byte loops below are not coverage-instrumented: tracing their
 * compares took 80% of the time and adds no interesting coverage.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE	__attribute__((no_sanitize("coverage")))
#else
#define NO_COVERAGE
#endif

static inline uint8_t pat(uint8_t fill, size_t i)
{
	return (uint8_t)(fill ^ (uint8_t)(i >> 3) ^ (uint8_t)(i >> 12) ^
			 (uint8_t)(i * 0x9d));
}

/*
 * Large objects are filled and checked in part, to keep the fuzzer fast:
 * the first and last 8 KiB and 64 bytes of every 4 KiB page between.
 */
#define SPAN_EDGE	8192
#define SPAN_STEP	4096
#define SPAN_SAMPLE	64

/* The end of the stretch of [0, n) checked from @i, and where the next starts. */
NO_COVERAGE static size_t span_end(size_t i, size_t n, size_t *next)
{
	size_t e;

	if (n <= 2 * SPAN_EDGE || i >= n - SPAN_EDGE) {
		*next = n;
		return n;
	}
	if (i < SPAN_EDGE) {
		*next = SPAN_EDGE;
		return SPAN_EDGE;
	}
	*next = i + SPAN_STEP < n - SPAN_EDGE ? i + SPAN_STEP : n - SPAN_EDGE;
	e = i + SPAN_SAMPLE;
	return e < *next ? e : *next;
}

NO_COVERAGE static void pat_fill(uint8_t *p, size_t n, uint8_t fill)
{
	size_t i = 0, e, next;

	while (i < n) {
		for (e = span_end(i, n, &next); i < e; i++)
			p[i] = pat(fill, i);
		i = next;
	}
}

/*
 * Index of the first byte below @limit that differs from the pattern
 * pat_fill(p, n, fill) wrote, or @limit.
 */
NO_COVERAGE static size_t pat_check_upto(const uint8_t *p, size_t n, size_t limit,
			     uint8_t fill)
{
	size_t i = 0, e, next;

	while (i < n && i < limit) {
		for (e = span_end(i, n, &next); i < e && i < limit; i++)
			if (p[i] != pat(fill, i))
				return i;
		i = next;
	}
	return limit;
}

static size_t pat_check(const uint8_t *p, size_t n, uint8_t fill)
{
	return pat_check_upto(p, n, n, fill);
}

/* Index of the first byte (of those sampled) that is not zero, or n. */
NO_COVERAGE static size_t zero_check(const uint8_t *p, size_t n)
{
	size_t i = 0, e, next;

	while (i < n) {
		for (e = span_end(i, n, &next); i < e; i++)
			if (p[i])
				return i;
		i = next;
	}
	return n;
}

/* First index whose object starts at or above @p. */
static unsigned int live_lower(const uint8_t *p)
{
	unsigned int lo = 0, hi = nlive;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (live[mid].p < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The live object overlapping [p, p + n), or NULL. */
static struct obj *live_overlap(const uint8_t *p, size_t n)
{
	unsigned int i = live_lower(p);

	if (n == 0)
		n = 1;
	if (i < nlive && live[i].p < p + n)
		return &live[i];
	if (i > 0 && live[i - 1].p + (live[i - 1].usable ? live[i - 1].usable : 1) > p)
		return &live[i - 1];
	return NULL;
}

static void live_insert(const struct obj *o)
{
	struct obj *other = live_overlap(o->p, o->usable);
	unsigned int i;

	CHECK(!other, "%p+%zu overlaps live %p+%zu (size %zu, kind %d)",
	      (void *)o->p, o->usable, (void *)other->p, other->usable,
	      other->size, other->kind);
	CHECK(nlive < MAX_LIVE, "live table overflow");
	i = live_lower(o->p);
	memmove(&live[i + 1], &live[i], (nlive - i) * sizeof(live[0]));
	live[i] = *o;
	nlive++;
	live_bytes += o->usable;
}

static void live_remove(unsigned int i)
{
	live_bytes -= live[i].usable;
	memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof(live[0]));
	nlive--;
}

static void verify_obj(const struct obj *o, const char *when)
{
	size_t bad = pat_check(o->p, o->usable, o->fill);

	CHECK(bad == o->usable,
	      "%s: %p (size %zu, usable %zu, kind %d) byte %zu is %#x, want %#x",
	      when, (void *)o->p, o->size, o->usable, o->kind, bad,
	      o->p[bad], pat(o->fill, bad));
}

static void verify_all(const char *when)
{
	for (unsigned int i = 0; i < nlive; i++)
		verify_obj(&live[i], when);
}

/* ---- constructors -------------------------------------------------------- */

static unsigned long ctor_calls;

static void ctor_common(unsigned int slot, void *obj)
{
	struct fcache *fc = &caches[slot];
	uint8_t *p = obj;
	struct obj *other;

	ctor_calls++;
	CHECK(((uintptr_t)p & (fc->align - 1)) == 0,
	      "ctor of cache %u got %p, not aligned to %zu", slot, obj,
	      fc->align);
	other = live_overlap(p, fc->size);
	CHECK(!other, "ctor of cache %u runs on %p+%zu, inside live %p+%zu",
	      slot, obj, fc->size, other ? (void *)other->p : NULL,
	      other ? other->usable : 0);
	pat_fill(p, fc->size, fc->ctor_fill);
}

static void ctor0(void *p) { ctor_common(0, p); }
static void ctor1(void *p) { ctor_common(1, p); }
static void ctor2(void *p) { ctor_common(2, p); }
static void ctor3(void *p) { ctor_common(3, p); }
static void (*const ctors[MAX_CACHES])(void *) = { ctor0, ctor1, ctor2, ctor3 };

/* ---- sizes and alignments ------------------------------------------------ */

static size_t pick_size(struct input *in)
{
	uint8_t sel = get8(in);
	size_t s;

	switch (sel & 3) {
	case 0:		/* small: 0 to 1023 */
		return get8(in) + ((size_t)(sel >> 2 & 3) << 8);
	case 1: {	/* a class boundary, minus one, exact or plus one */
		size_t c = class_sizes[get8(in) % NR_CLASS_SIZES];

		return c + (size_t)((sel >> 2) % 3) - 1;
	}
	case 2:		/* medium: up to 260 KiB */
		return (size_t)get16(in) * 4 + (sel >> 2 & 15);
	default:	/* large: 256 KiB to 4 MiB, around 2 MiB sometimes */
		s = (size_t)get16(in) * 64;
		if (sel & 4)
			s = (2UL << 20) + (size_t)(int8_t)get8(in) * 4096;
		return s < (256UL << 10) ? s + (256UL << 10) : s;
	}
}

static size_t pick_align(struct input *in)
{
	uint8_t a = get8(in);

	if (a >= 0xf0)		/* not a power of two */
		return (size_t)(a & 0x0f) * 24 + 3;
	return (size_t)1 << (a % 23);	/* 1 to 4 MiB */
}

static size_t natural_align(size_t size)
{
	return size > 8 ? 16 : 8;
}

static int is_pow2(size_t x)
{
	return x && !(x & (x - 1));
}

/* ---- the malloc family --------------------------------------------------- */

static int room_for(size_t size)
{
	return nlive < MAX_LIVE && live_bytes + size <= MAX_BYTES;
}

/* Records a fresh allocation after checking it; @zero: must be zeroed. */
static void track(void *ptr, size_t size, size_t align, int zero,
		  const char *what, struct input *in)
{
	struct obj o = { .p = ptr, .size = size, .kind = K_MALLOC };
	size_t bad;

	TRACE("%s(size %zu, align %zu) = %p", what, size, align, ptr);
	CHECK(ptr, "%s(%zu, align %zu) returned NULL (errno %d)", what, size,
	      align, errno);
	if (align < natural_align(size))
		align = natural_align(size);
	CHECK(((uintptr_t)ptr & (align - 1)) == 0,
	      "%s(%zu) returned %p, not aligned to %zu", what, size, ptr, align);
	o.usable = o.ausable = hak_malloc_usable_size(ptr);
	CHECK(o.usable >= size, "%s(%zu) = %p: usable size %zu", what, size,
	      ptr, o.usable);
	if (zero) {
		bad = zero_check(ptr, size);
		CHECK(bad == size, "%s(%zu) = %p: byte %zu is not zero", what,
		      size, ptr, bad);
	}
	o.fill = get8(in);
	live_insert(&o);
	pat_fill(o.p, o.usable, o.fill);
}

/* The live malloc-family object chosen by the input, or -1. */
static int pick_live(struct input *in, int want_kind)
{
	unsigned int start, i;

	if (!nlive)
		return -1;
	start = get16(in) % nlive;
	for (i = 0; i < nlive; i++) {
		unsigned int j = (start + i) % nlive;

		if (want_kind < 0 || live[j].kind == want_kind)
			return (int)j;
	}
	return -1;
}

static void free_obj(unsigned int i, int via_hak_free)
{
	struct obj o = live[i];

	TRACE("free(%p) [size %zu, kind %d, %s]", (void *)o.p, o.size, o.kind,
	      via_hak_free || o.kind == K_MALLOC ? "hak_free" : "hak_cache_free");
	verify_obj(&o, "free");
	live_remove(i);
	if (o.kind == K_CACHE) {
		struct fcache *fc = &caches[o.slot];

		if (fc->has_ctor)	/* freed in the constructed state */
			pat_fill(o.p, fc->size, fc->ctor_fill);
		fc->nobj--;
		if (via_hak_free)
			hak_free(o.p);
		else
			hak_cache_free(fc->c, o.p);
	} else {
		hak_free(o.p);
	}
}

static void op_malloc(struct input *in)
{
	size_t size = pick_size(in);

	if (room_for(size))
		track(hak_malloc(size), size, 0, 0, "malloc", in);
}

static void op_burst(struct input *in)
{
	size_t size = pick_size(in) % 8192;
	unsigned int n = get8(in) % 64 + 1, nfree = get8(in) % (n + 1);

	/* many of one class: refills, drains, several slabs */
	for (unsigned int k = 0; k < n && room_for(size); k++)
		track(hak_malloc(size), size, 0, 0, "malloc", in);
	for (unsigned int k = 0; k < nfree; k++) {
		int i = pick_live(in, K_MALLOC);

		if (i < 0)
			break;
		free_obj((unsigned int)i, 1);
	}
}

static void op_calloc(struct input *in)
{
	uint8_t sel = get8(in);
	size_t nmemb, size, total;
	void *p;

	if (sel >= 0xf8) {	/* overflowing product */
		nmemb = (SIZE_MAX >> (sel & 7)) / 3 + 1;
		size = 4;
		errno = 0;
		p = hak_calloc(nmemb, size);
		CHECK(!p && errno == ENOMEM,
		      "calloc(%zu, %zu) overflowing: %p, errno %d", nmemb,
		      size, p, errno);
		return;
	}
	nmemb = sel % 16 + 1;
	total = pick_size(in);
	size = total / nmemb;
	total = nmemb * size;
	if (room_for(total))
		track(hak_calloc(nmemb, size), total, 0, 1, "calloc", in);
}

/* hak_realloc() (or hak_reallocarray()) of a live object or NULL. */
static void op_realloc(struct input *in, int array)
{
	uint8_t sel = get8(in);
	int i = (sel & 7) ? pick_live(in, K_MALLOC) : -1;
	size_t size, nmemb = 1, keep;
	struct obj o = { 0 };
	void *q;

	if (array && sel >= 0xf0) {	/* overflow: NULL, object untouched */
		nmemb = SIZE_MAX / 2 + 2;
		errno = 0;
		q = hak_reallocarray(i >= 0 ? live[i].p : NULL, nmemb, 2);
		CHECK(!q && errno == ENOMEM, "reallocarray overflow: %p, errno %d",
		      q, errno);
		if (i >= 0)
			verify_obj(&live[i], "failed reallocarray");
		return;
	}
	if (sel >= 0xe8 && i >= 0) {	/* absurd size: NULL, untouched */
		errno = 0;
		q = hak_realloc(live[i].p, SIZE_MAX - 4096 * (sel & 7));
		CHECK(!q && errno == ENOMEM, "realloc(huge): %p, errno %d", q,
		      errno);
		verify_obj(&live[i], "failed realloc");
		return;
	}
	size = pick_size(in);
	if (array) {
		nmemb = get8(in) % 8 + 1;
		size /= nmemb;
	}
	if (i >= 0) {
		o = live[i];
		verify_obj(&o, "realloc");
		if (!room_for(nmemb * size))
			return;
		live_remove((unsigned int)i);
	} else if (!room_for(nmemb * size)) {
		return;
	}
	q = array ? hak_reallocarray(o.p, nmemb, size) : hak_realloc(o.p, nmemb * size);
	TRACE("%s(%p [size %zu], %zu x %zu) = %p", array ? "reallocarray" :
	      "realloc", (void *)o.p, o.size, nmemb, size, q);
	size *= nmemb;
	if (o.p && size == 0) {
		/* frees, returns NULL (glibc semantics) */
		CHECK(!q, "realloc(%p, 0) returned %p", (void *)o.p, q);
		return;
	}
	CHECK(q, "realloc(%p, %zu) returned NULL (errno %d)", (void *)o.p,
	      size, errno);
	if (o.p) {
		keep = o.usable < size ? o.usable : size;
		size_t bad = pat_check_upto(q, o.usable, keep, o.fill);

		CHECK(bad == keep,
		      "realloc(%p [size %zu usable %zu], %zu) = %p: byte %zu of %zu lost",
		      (void *)o.p, o.size, o.usable, size, q, bad, keep);
	}
	track(q, size, 0, 0, array ? "reallocarray" : "realloc", in);
}

static void op_aligned(struct input *in, int which)
{
	size_t align = pick_align(in), size = pick_size(in);
	int pow2 = is_pow2(align), rc;
	void *p = NULL;
	size_t want;

	if (!room_for(size + align))
		return;
	errno = 0;
	switch (which) {
	case 0:
		p = hak_aligned_alloc(align, size);
		if (!pow2) {
			CHECK(!p && errno == EINVAL,
			      "aligned_alloc(%zu, %zu) = %p, errno %d", align,
			      size, p, errno);
			return;
		}
		want = align;
		break;
	case 1:
		rc = hak_posix_memalign(&p, align, size);
		if (!pow2 || align % sizeof(void *)) {
			CHECK(rc == EINVAL, "posix_memalign(%zu, %zu) = %d",
			      align, size, rc);
			return;
		}
		CHECK(rc == 0, "posix_memalign(%zu, %zu) = %d", align, size, rc);
		want = align;
		break;
	default:
		p = hak_memalign(align, size);
		for (want = 1; want < align; want <<= 1)
			;
		break;
	}
	track(p, size, want, 0, which == 0 ? "aligned_alloc" :
	      which == 1 ? "posix_memalign" : "memalign", in);
}

static void op_valloc(struct input *in)
{
	size_t size = pick_size(in), req;
	int pv = get8(in) & 1;

	if (!room_for(size + 8192))
		return;
	req = pv ? (size + 4095) / 4096 * 4096 : size;
	if (pv && !req)
		req = 4096;
	track(pv ? hak_pvalloc(size) : hak_valloc(size), req, 4096, 0,
	      pv ? "pvalloc" : "valloc", in);
}

static void op_bad_size(struct input *in)
{
	size_t size = SIZE_MAX - (size_t)get8(in) * 4096;
	void *p;

	errno = 0;
	p = hak_malloc(size);
	CHECK(!p && errno == ENOMEM, "malloc(%zu) = %p, errno %d", size, p,
	      errno);
	errno = 0;
	p = hak_aligned_alloc(64, size);
	CHECK(!p && errno == ENOMEM, "aligned_alloc(64, %zu) = %p, errno %d",
	      size, p, errno);
}

static void op_usable(struct input *in)
{
	int i = pick_live(in, -1);
	size_t u;

	if (i < 0) {
		CHECK(hak_malloc_usable_size(NULL) == 0, "usable_size(NULL)");
		return;
	}
	u = hak_malloc_usable_size(live[i].p);
	CHECK(u == live[i].ausable, "usable size of %p changed: %zu -> %zu",
	      (void *)live[i].p, live[i].ausable, u);
	verify_obj(&live[i], "check");
}

/* ---- object caches ------------------------------------------------------- */

static void op_cache_create(struct input *in)
{
	unsigned int slot = get8(in) % MAX_CACHES;
	struct fcache *fc = &caches[slot];
	uint8_t sel = get8(in);
	size_t size, align;
	unsigned long flags = 0;
	char name[32];

	if (fc->c)
		return;
	size = pick_size(in);
	if (size > (256UL << 10))
		size = size % (256UL << 10);
	if (!size)
		size = 1;
	align = (sel & 0x80) ? (size_t)1 << (get8(in) % 13) : 0;	/* to 4096 */
	if (sel & 0x40)
		flags |= HAK_SLAB_HWCACHE_ALIGN;
	fc->has_ctor = !!(sel & 0x20);
	fc->size = size;
	fc->align = align > 8 ? align : 8;
	fc->ctor_fill = ++gen;
	fc->nobj = 0;
	snprintf(name, sizeof(name), "fuzz-%u-%zu", slot, size);
	fc->c = hak_cache_create(name, size, align, flags,
				 fc->has_ctor ? ctors[slot] : NULL);
	TRACE("hak_cache_create(%s, %zu, %zu, %#lx, ctor %d) = %p", name, size,
	      align, flags, fc->has_ctor, (void *)fc->c);
	CHECK(fc->c, "hak_cache_create(%zu, %zu, %#lx, ctor %d) failed, errno %d",
	      size, align, flags, fc->has_ctor, errno);
}

static void op_cache_alloc(struct input *in)
{
	unsigned int slot = get8(in) % MAX_CACHES, n = get8(in) % 16 + 1;
	struct fcache *fc = &caches[slot];

	if (!fc->c)
		return;
	for (unsigned int k = 0; k < n && room_for(fc->size); k++) {
		uint8_t *p = hak_cache_alloc(fc->c);
		struct obj o = { .p = p, .size = fc->size, .kind = K_CACHE,
				 .slot = (uint8_t)slot };
		size_t bad;

		TRACE("hak_cache_alloc(cache %u) = %p", slot, (void *)p);
		CHECK(p, "hak_cache_alloc(cache %u, size %zu) returned NULL",
		      slot, fc->size);
		CHECK(((uintptr_t)p & (fc->align - 1)) == 0,
		      "cache %u object %p not aligned to %zu", slot, (void *)p,
		      fc->align);
		o.usable = o.ausable = hak_malloc_usable_size(p);
		CHECK(o.usable >= fc->size, "cache %u object %p: usable %zu < %zu",
		      slot, (void *)p, o.usable, fc->size);
		if (fc->has_ctor) {
			bad = pat_check(p, fc->size, fc->ctor_fill);
			CHECK(bad == fc->size,
			      "cache %u object %p not constructed: byte %zu is %#x",
			      slot, (void *)p, bad, p[bad]);
			/* only what the constructor set is ours to scribble on */
			o.usable = fc->size;
		}
		o.fill = get8(in);
		live_insert(&o);
		fc->nobj++;
		pat_fill(p, o.usable, o.fill);
	}
}

static void op_cache_free(struct input *in)
{
	int i = pick_live(in, K_CACHE);

	if (i >= 0)
		free_obj((unsigned int)i, get8(in) < 32);
}

static void free_cache_objects(unsigned int slot)
{
	for (unsigned int i = nlive; i-- > 0;)
		if (live[i].kind == K_CACHE && live[i].slot == slot)
			free_obj(i, 0);
}

static void op_cache_destroy(struct input *in)
{
	unsigned int slot = get8(in) % MAX_CACHES;
	struct fcache *fc = &caches[slot];

	if (!fc->c)
		return;
	free_cache_objects(slot);
	CHECK(fc->nobj == 0, "cache %u: %u objects left", slot, fc->nobj);
	TRACE("hak_cache_destroy(cache %u)", slot);
	hak_cache_destroy(fc->c);
	fc->c = NULL;
}

static void op_cache_shrink(struct input *in)
{
	unsigned int slot = get8(in) % MAX_CACHES;

	if (!caches[slot].c)
		return;
	TRACE("hak_cache_shrink(cache %u)", slot);
	hak_cache_shrink(caches[slot].c);
	verify_all("after hak_cache_shrink");
}

/* ---- the driver ---------------------------------------------------------- */

static uint64_t kmalloc_active(void)
{
	struct hak_slabinfo rows[64];
	int n = hak_slabinfo(rows, 64);
	uint64_t active = 0;

	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		if (!strncmp(rows[i].name, "kmalloc-", 8))
			active += rows[i].active_objs;
	return active;
}

static void end_of_input(uint64_t huge0)
{
	struct hak_global_stats st;
	uint64_t active;

	verify_all("end of input");
	while (nlive)
		free_obj(nlive - 1, 0);
	for (unsigned int s = 0; s < MAX_CACHES; s++) {
		if (caches[s].c) {
			hak_cache_destroy(caches[s].c);
			caches[s].c = NULL;
		}
	}
	CHECK(live_bytes == 0, "model: %zu bytes left", live_bytes);
	hak_global_stats(&st);
	CHECK(st.huge_allocs == huge0, "huge allocations: %llu live, want %llu",
	      (unsigned long long)st.huge_allocs, (unsigned long long)huge0);
	/* active_objs counts objects in the fast-path caches: flush them */
	hak_trim();
	active = kmalloc_active();
	CHECK(active == 0, "kmalloc active objects after freeing all: %llu",
	      (unsigned long long)active);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_TRACE");

	(void)argc;
	(void)argv;
	trace = t && *t == '1';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct hak_global_stats st;
	uint64_t huge0;

	if (size > 4096)	/* keep inputs short: the model is quadratic-ish */
		return -1;
	hak_global_stats(&st);
	huge0 = st.huge_allocs;
	op_count = 0;
	while (in.n) {
		uint8_t op = get8(&in);

		op_count++;
		switch (op % 20) {
		case 0: case 1:	op_malloc(&in); break;
		case 2:		op_calloc(&in); break;
		case 3:		op_realloc(&in, 0); break;
		case 4:		op_realloc(&in, 1); break;
		case 5:		op_aligned(&in, 0); break;
		case 6:		op_aligned(&in, 1); break;
		case 7:		op_aligned(&in, 2); break;
		case 8: case 9: {
			int i = pick_live(&in, K_MALLOC);

			if (i >= 0)
				free_obj((unsigned int)i, 1);
			break;
		}
		case 10:	op_usable(&in); break;
		case 11:	op_cache_create(&in); break;
		case 12: case 13: op_cache_alloc(&in); break;
		case 14:	op_cache_free(&in); break;
		case 15:	op_cache_shrink(&in); break;
		case 16:	op_cache_destroy(&in); break;
		case 17:
			TRACE("hak_trim()");
			hak_trim();
			verify_all("after hak_trim");
			break;
		case 18:	op_burst(&in); break;
		default:
			if (op & 0x80)
				op_bad_size(&in);
			else
				op_valloc(&in);
			break;
		}
	}
	end_of_input(huge0);
	return 0;
}
