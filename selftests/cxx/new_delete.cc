// SPDX-License-Identifier: MIT
/*
 * C++ operator new/delete selftest (TAP): every form of the family is
 * hakmem's (core/new_delete.c) and behaves as the standard says: memory
 * from hakmem that keeps its contents, alignments honoured, new(0) unique,
 * nothrow forms giving nullptr, the new-handler loop, std::bad_alloc and
 * an exception of the handler's own thrown through the library, sized
 * delete freeing, and a bad delete reported on stderr as free() reports
 * it.
 *
 * Built twice (selftests/selftests.mk): new_delete-static, linked with
 * libhakmem.a, and new_delete, linked with nothing of hakmem's and run
 * under LD_PRELOAD=libhakmem.so (scripts/run-tests.sh), where the hak_*
 * calls below are weak references the preloaded library satisfies.
 *
 * Usage: new_delete [child-warn|child-abort] (the children are run by the
 * test itself).
 */
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <dlfcn.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../lib/tap.h"

#ifndef HAK_STATIC
/* under LD_PRELOAD: from the preloaded library, NULL without it */
extern "C" size_t hak_malloc_usable_size(const void *ptr) __attribute__((weak));
extern "C" void hak_free(void *ptr) __attribute__((weak));
#endif

/* A request no mapping can serve: new fails at once, deterministically. */
static const size_t impossible = (size_t)1 << 62;

/* Keeps the compiler from pairing up and removing a new and a delete. */
static void *escape(void *p)
{
	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

/* Whether @p is a hakmem object of at least @size bytes aligned to @align. */
static bool from_hakmem(void *p, size_t size, size_t align)
{
	return p && hak_malloc_usable_size(p) >= size &&
	       !((uintptr_t)p & (align - 1));
}

/* Fills @p with a pattern of @seed, or checks that it is still there. */
static bool pattern(void *p, size_t size, unsigned char seed, bool check)
{
	unsigned char *c = (unsigned char *)p;

	for (size_t i = 0; i < size; i++) {
		unsigned char want = (unsigned char)(seed + i * 7);

		if (!check)
			c[i] = want;
		else if (c[i] != want)
			return false;
	}
	return true;
}

/* ---- every form is the library's ----------------------------------------- */

struct form {
	const char *name;
	void *addr;
};

#define FORM(type, op) { #op " " #type, (void *)static_cast<type>(&op) }

typedef const std::nothrow_t &nt_ref;
typedef std::align_val_t al_t;

static const struct form forms[] = {
	FORM(void *(*)(size_t), ::operator new),
	FORM(void *(*)(size_t, nt_ref), ::operator new),
	FORM(void *(*)(size_t, al_t), ::operator new),
	FORM(void *(*)(size_t, al_t, nt_ref), ::operator new),
	FORM(void *(*)(size_t), ::operator new[]),
	FORM(void *(*)(size_t, nt_ref), ::operator new[]),
	FORM(void *(*)(size_t, al_t), ::operator new[]),
	FORM(void *(*)(size_t, al_t, nt_ref), ::operator new[]),
	FORM(void (*)(void *), ::operator delete),
	FORM(void (*)(void *, size_t), ::operator delete),
	FORM(void (*)(void *, nt_ref), ::operator delete),
	FORM(void (*)(void *, al_t), ::operator delete),
	FORM(void (*)(void *, size_t, al_t), ::operator delete),
	FORM(void (*)(void *, al_t, nt_ref), ::operator delete),
	FORM(void (*)(void *), ::operator delete[]),
	FORM(void (*)(void *, size_t), ::operator delete[]),
	FORM(void (*)(void *, nt_ref), ::operator delete[]),
	FORM(void (*)(void *, al_t), ::operator delete[]),
	FORM(void (*)(void *, size_t, al_t), ::operator delete[]),
	FORM(void (*)(void *, al_t, nt_ref), ::operator delete[]),
};

/* Every form resolves into the object (library or program) holding hak_free. */
static void test_forms_are_hakmem(void)
{
	Dl_info hak, info;
	int bad = 0;

	if (!dladdr((void *)&hak_free, &hak)) {
		tap_result(0, "all 20 forms are hakmem's (no dladdr of hak_free)");
		return;
	}
	for (const struct form &f : forms) {
		if (dladdr(f.addr, &info) && info.dli_fbase == hak.dli_fbase)
			continue;
		tap_diag("%s is in %s", f.name, info.dli_fname);
		bad++;
	}
	tap_result(!bad, "all 20 forms are hakmem's (%s)", hak.dli_fname);
}

/* ---- allocation ---------------------------------------------------------- */

static const size_t sizes[] = { 1, 8, 24, 100, 1000, 1024, 1500, 5000,
				70000, 1 << 20, (1 << 20) + 1, 3 << 20 };

static void test_new(void)
{
	int bad = 0;

	for (size_t size : sizes) {
		void *p = escape(::operator new(size));
		void *a = escape(::operator new[](size));
		void *q = escape(::operator new(size, std::nothrow));
		void *r = escape(::operator new[](size, std::nothrow));

		bad += !from_hakmem(p, size, size > 8 ? 16 : 8);
		bad += !from_hakmem(a, size, size > 8 ? 16 : 8);
		bad += !from_hakmem(q, size, size > 8 ? 16 : 8);
		bad += !from_hakmem(r, size, size > 8 ? 16 : 8);
		pattern(p, size, 1, false);
		pattern(a, size, 2, false);
		pattern(q, size, 3, false);
		pattern(r, size, 4, false);
		bad += !pattern(p, size, 1, true) + !pattern(a, size, 2, true);
		bad += !pattern(q, size, 3, true) + !pattern(r, size, 4, true);
		::operator delete(p, size);
		::operator delete[](a);
		::operator delete(q, std::nothrow);
		::operator delete[](r, size);
	}
	tap_result(!bad, "new, new[] and their nothrow forms: hakmem memory that keeps its contents (%d bad)", bad);
}

static void test_new_zero(void)
{
	void *p = escape(::operator new(0));
	void *q = escape(::operator new(0));
	void *a = escape(::operator new[](0, std::nothrow));
	void *b = escape(::operator new(0, std::align_val_t(64)));
	bool ok = p && q && a && b && p != q && a != p && a != q && b != p &&
		  from_hakmem(p, 0, 8) && from_hakmem(b, 1, 64);

	::operator delete(p);
	::operator delete(q, (size_t)0);
	::operator delete[](a);
	::operator delete(b, std::align_val_t(64));
	tap_result(ok, "new(0) gives a unique pointer each time (aligned too)");
}

static void test_aligned(void)
{
	static const size_t aligns[] = { 1, 8, 16, 32, 64, 256, 4096, 65536,
					 1 << 21 };
	static const size_t asizes[] = { 1, 48, 3000, 100000, 3 << 20 };
	int bad = 0, n = 0;

	for (size_t align : aligns) {
		for (size_t size : asizes) {
			std::align_val_t al = static_cast<std::align_val_t>(align);
			void *p = escape(::operator new(size, al));
			void *a = escape(::operator new[](size, al));
			void *q = escape(::operator new(size, al, std::nothrow));
			void *r = escape(::operator new[](size, al, std::nothrow));

			bad += !from_hakmem(p, size, align) + !from_hakmem(a, size, align);
			bad += !from_hakmem(q, size, align) + !from_hakmem(r, size, align);
			pattern(p, size, 5, false);
			pattern(r, size, 6, false);
			bad += !pattern(p, size, 5, true) + !pattern(r, size, 6, true);
			::operator delete(p, size, al);
			::operator delete[](a, al);
			::operator delete(q, al, std::nothrow);
			::operator delete[](r, size, al);
			n += 4;
		}
	}
	tap_result(!bad, "aligned new and new[], throwing and nothrow: %d allocations aligned 1 B to 2 MiB (%d bad)", n, bad);
}

struct alignas(128) wide {
	char c[200];
};

static void test_new_expressions(void)
{
	wide *w = new wide;
	wide *v = new wide[3];
	int *i = new int(42);
	bool ok = from_hakmem(w, sizeof(*w), 128) &&
		  from_hakmem(v, 3 * sizeof(*v), 128) && from_hakmem(i, 4, 4);

	delete w;
	delete[] v;
	delete i;
	tap_result(ok, "new expressions: an over-aligned type (alignas(128)), an array of it, an int");
}

/* ---- failure --------------------------------------------------------------- */

static void test_nothrow_fails(void)
{
	void *p = ::operator new(impossible, std::nothrow);
	void *a = ::operator new[](impossible, std::nothrow);
	void *q = ::operator new(impossible, std::align_val_t(64), std::nothrow);
	void *r = ::operator new[](impossible, std::align_val_t(4096),
				   std::nothrow);
	void *s = ::operator new(64, std::align_val_t(48), std::nothrow);

	tap_result(!p && !a && !q && !r && !s,
		   "nothrow forms give nullptr on failure (and for an alignment not a power of two)");
}

/* Runs @fn; tells whether it threw std::bad_alloc. */
template <typename F> static bool throws_bad_alloc(F fn)
{
	try {
		escape(fn());
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

static void test_bad_alloc(void)
{
	bool a = throws_bad_alloc([] { return ::operator new(impossible); });
	bool b = throws_bad_alloc([] { return ::operator new[](impossible); });
	bool c = throws_bad_alloc([] {
		return ::operator new(impossible, std::align_val_t(256));
	});
	bool d = throws_bad_alloc([] {
		return ::operator new[](impossible, std::align_val_t(1 << 21));
	});
	bool e = throws_bad_alloc([] {
		return ::operator new(64, std::align_val_t(24));
	});

	tap_result(a && b && c && d && e,
		   "no new-handler: new, new[] and the aligned forms throw std::bad_alloc");
}

static int handler_calls;

/* Gives up on its third call: uninstalls itself. */
static void handler_gives_up(void)
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

static void test_handler_loop(void)
{
	bool threw, threw_al;
	int calls, calls_al, calls_nt;
	void *p;

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	threw = throws_bad_alloc([] { return ::operator new(impossible); });
	calls = handler_calls;

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	threw_al = throws_bad_alloc([] {
		return ::operator new[](impossible, std::align_val_t(64));
	});
	calls_al = handler_calls;

	handler_calls = 0;
	std::set_new_handler(handler_gives_up);
	p = ::operator new(impossible, std::nothrow);
	calls_nt = handler_calls;

	tap_result(threw && calls == 3 && threw_al && calls_al == 3 && !p &&
		   calls_nt == 3 && !std::get_new_handler(),
		   "new-handler loop: called until it uninstalls itself (%d, aligned %d, nothrow %d calls), then std::bad_alloc / nullptr",
		   calls, calls_al, calls_nt);
}

struct handler_error : std::bad_alloc {
	const char *what() const noexcept override
	{
		return "handler_error";
	}
};

static void handler_throws(void)
{
	handler_calls++;
	throw handler_error();
}

static void test_handler_throws(void)
{
	bool caught = false;

	handler_calls = 0;
	std::set_new_handler(handler_throws);
	try {
		escape(::operator new(impossible));
	} catch (const handler_error &e) {
		caught = !strcmp(e.what(), "handler_error");
	}
	std::set_new_handler(nullptr);
	tap_result(caught && handler_calls == 1,
		   "a new-handler's own exception unwinds through operator new to the caller");
}

/*
 * A reserve the handler releases: a low RLIMIT_AS makes a 64 MiB new
 * fail; the handler lifts the limit, and the retry succeeds.
 */
static struct rlimit saved_as;

static void handler_releases(void)
{
	handler_calls++;
	setrlimit(RLIMIT_AS, &saved_as);
}

static long vm_bytes(void)
{
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * sysconf(_SC_PAGESIZE);
}

static void test_handler_releases(void)
{
	const size_t size = 64 << 20;
	struct rlimit low;
	void *p = nullptr;
	bool threw = false;

	if (getrlimit(RLIMIT_AS, &saved_as)) {
		tap_skip_test("new-handler releases memory", "no getrlimit");
		return;
	}
	low = saved_as;
	low.rlim_cur = vm_bytes() + (16 << 20);
	if (saved_as.rlim_cur != RLIM_INFINITY && saved_as.rlim_cur < low.rlim_cur + size) {
		tap_skip_test("new-handler releases memory", "RLIMIT_AS already low");
		return;
	}
	handler_calls = 0;
	std::set_new_handler(handler_releases);
	setrlimit(RLIMIT_AS, &low);
	try {
		p = escape(::operator new(size));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	setrlimit(RLIMIT_AS, &saved_as);
	std::set_new_handler(nullptr);
	tap_result(!threw && handler_calls == 1 && from_hakmem(p, size, 16),
		   "a new-handler that releases memory: called once, the retry succeeds");
	::operator delete(p, size);
}

/* ---- bad deletes, in a child ----------------------------------------------- */

/*
 * The child's part: a sized delete, then the same delete again (a double
 * free only if the first really freed the object into hakmem), then an
 * interior pointer; each address on stdout for the parent to look for.
 */
static int child_bad_deletes(void)
{
	char *p = (char *)escape(::operator new(64));
	char *q = (char *)escape(::operator new[](256));
	char *volatile again = p;	/* hidden from -Wuse-after-free */

	printf("%p %p\n", (void *)p, (void *)(q + 16));
	fflush(stdout);
	::operator delete(p, 64);
	::operator delete(again, 64);		/* double free */
	::operator delete[](q + 16);		/* interior pointer */
	::operator delete[](q, 256);
	return 0;
}

/* Runs this program as @what with HAKMEM_ON_ERROR=@mode; its output in @out/@err. */
static int run_child(const char *what, const char *mode, char *out,
		     size_t outsz, char *err, size_t errsz)
{
	int o[2], e[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(o) || pipe(e))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		setenv("HAKMEM_ON_ERROR", mode, 1);
		execl("/proc/self/exe", "new_delete", what, (char *)nullptr);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	n = read(o[0], out, outsz - 1);
	out[n > 0 ? n : 0] = '\0';
	n = 0;
	for (ssize_t r; (r = read(e[0], err + n, errsz - 1 - n)) > 0;)
		n += r;
	err[n] = '\0';
	close(o[0]);
	close(e[0]);
	waitpid(pid, &status, 0);
	return status;
}

static void test_bad_delete_warn(void)
{
	char out[128], err[1024], want1[64], want2[64];
	void *p = nullptr, *q = nullptr;
	int status = run_child("child", "warn", out, sizeof(out), err, sizeof(err));

	if (sscanf(out, "%p %p", &p, &q) != 2) {
		tap_result(0, "bad deletes reported (child gave no addresses: %#x)", status);
		return;
	}
	snprintf(want1, sizeof(want1), "hakmem: free(%p): ", p);
	snprintf(want2, sizeof(want2), "hakmem: free(%p): ", q);
	if (!strstr(err, want1) || !strstr(err, want2))
		tap_diag("child stderr: %s", err);
	tap_result(WIFEXITED(status) && !WEXITSTATUS(status) &&
		   strstr(err, want1) && strstr(err, "double free") &&
		   strstr(err, want2),
		   "HAKMEM_ON_ERROR=warn: a second sized delete and a delete[] of an interior pointer are reported as free() reports them");
}

static void test_bad_delete_abort(void)
{
	char out[128], err[1024];
	int status = run_child("child", "abort", out, sizeof(out), err, sizeof(err));

	tap_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
		   strstr(err, "double free"),
		   "by default the double sized delete is reported and aborts");
}

int main(int argc, char **)
{
	if (argc > 1)	/* "child": run by test_bad_delete_*() */
		return child_bad_deletes();
	tap_plan(12);
#ifndef HAK_STATIC
	if (!&hak_malloc_usable_size || !&hak_free) {
		printf("Bail out! not on hakmem: run under LD_PRELOAD=libhakmem.so\n");
		return 1;
	}
#endif
	test_forms_are_hakmem();
	test_new();
	test_new_zero();
	test_aligned();
	test_new_expressions();
	test_nothrow_fails();
	test_bad_alloc();
	test_handler_loop();
	test_handler_throws();
	test_handler_releases();
	test_bad_delete_warn();
	test_bad_delete_abort();
	return tap_exit();
}
