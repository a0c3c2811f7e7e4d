// SPDX-License-Identifier: MIT
/*
 * Unit tests: the memory limits (hak_set_limit(), HAKMEM_LIMIT). Small and
 * huge allocations up to the hard limit, half of them freed, allocated
 * again; the soft limit releasing the cache of freed huge mappings before
 * mapping more; a hard limit below what is mapped; bad input. Each test
 * runs in its own forked process (Check's default), so limits set by one
 * do not reach another.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/limit.h"
#include "../../core/options.h"
#include "../../core/os.h"
#include "../lib/check_main.h"
#include "../lib/capture.h"

#define MiB		(1UL << 20)
#define MAX_OBJS	(1 << 17)

static void *objs[MAX_OBJS];

static struct hak_global_stats stats(void)
{
	struct hak_global_stats st;

	hak_global_stats(&st);
	return st;
}

static int pin_to_one_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Allocates @size-byte blocks into objs[] until the allocator refuses
 * (NULL with ENOMEM), checking the hard limit after each; returns how many.
 */
static int fill(size_t size, int from, uint64_t hard)
{
	int n;

	for (n = from; n < MAX_OBJS; n++) {
		errno = 0;
		objs[n] = hak_malloc(size);
		if (!objs[n]) {
			ck_assert_int_eq(errno, ENOMEM);
			break;
		}
		memset(objs[n], 0x5a, size < 4096 ? size : 4096);
		ck_assert_uint_le(os_mapped_bytes(), hard);
	}
	ck_assert_int_lt(n, MAX_OBJS);	/* the limit, not the array, ended it */
	return n - from;
}

/*
 * Allocate to the limit, free every other block, allocate again. On one
 * CPU: in the per-CPU mode, objects freed into another CPU's cache are not
 * reachable from this one until drained, so a migration would make the
 * count of the second round depend on the scheduler.
 */
static void limit_cycle(size_t size, uint64_t room)
{
	uint64_t hard = stats().mapped_bytes + room;
	uint64_t fails;
	int n, again, freed = 0;

	ck_assert_int_eq(pin_to_one_cpu(), 0);
	ck_assert_int_eq(hak_set_limit(0, hard), 0);
	n = fill(size, 0, hard);
	ck_assert_int_gt(n, 4);
	fails = stats().limit_failures;
	ck_assert_uint_gt(fails, 0);
	/* the heap stays usable: frees work, and so does a retry */
	for (int i = 0; i < n; i += 2, freed++)
		hak_free(objs[i]);
	for (int i = 1; i < n; i += 2)
		objs[i / 2] = objs[i];
	n -= freed;
	again = fill(size, n, hard);
	ck_assert_int_ge(again, freed);
	ck_assert_uint_le(stats().mapped_bytes, hard);
	for (int i = 0; i < n + again; i++)
		hak_free(objs[i]);
	ck_assert_uint_gt(stats().limit_failures, fails);
}

START_TEST(small_objects_up_to_the_hard_limit)
{
	limit_cycle(1024, 24 * MiB);
}
END_TEST

START_TEST(huge_objects_up_to_the_hard_limit)
{
	limit_cycle(3 * MiB, 40 * MiB);
}
END_TEST

/*
 * Freed huge mappings stay cached (HAKMEM_HUGE_CACHE_KB); above the soft
 * limit, the next mapping releases them first.
 */
START_TEST(soft_limit_releases_the_huge_cache)
{
	uint64_t reclaims;
	int n;

	option_values[OPT_HUGE_CACHE_KB] = 256 << 10;
	option_values[OPT_HUGE_DECAY_MS] = 1L << 30;
	for (n = 0; n < 8; n++)
		objs[n] = hak_malloc(4 * MiB);
	for (n = 0; n < 8; n++)
		hak_free(objs[n]);
	ck_assert_uint_ge(stats().huge_bytes, 32 * MiB);
	ck_assert_int_eq(hak_set_limit(stats().mapped_bytes + MiB, 0), 0);
	ck_assert_uint_ge(stats().huge_bytes, 32 * MiB);	/* no trim yet */
	reclaims = stats().limit_reclaims;
	/* small objects until one more SuperSlab is mapped */
	for (n = 0; n < MAX_OBJS && stats().limit_reclaims == reclaims; n++)
		objs[n] = hak_malloc(2048);
	ck_assert_uint_gt(stats().limit_reclaims, reclaims);
	ck_assert_uint_eq(stats().huge_bytes, 0);
	ck_assert_uint_eq(stats().limit_failures, 0);
	while (n--)
		hak_free(objs[n]);
}
END_TEST

static int set_ret;

static void set_below(void *arg)
{
	set_ret = hak_set_limit(0, *(size_t *)arg);
}

/*
 * A hard limit below the bytes mapped now is accepted and reported;
 * memory already mapped still serves, nothing new is mapped until the
 * limit is raised.
 */
START_TEST(hard_limit_below_mapped)
{
	size_t hard = HAK_PAGE_SIZE;
	char buf[512];
	void *p = hak_malloc(64), *q;

	/* @p keeps its SuperSlab mapped through the trim */
	capture_stderr(set_below, &hard, buf, sizeof(buf));
	ck_assert_int_eq(set_ret, 1);
	ck_assert_ptr_nonnull(strstr(buf, "below the"));
	ck_assert_uint_eq(stats().limit_hard, HAK_PAGE_SIZE);
	ck_assert_uint_gt(stats().mapped_bytes, HAK_PAGE_SIZE);
	errno = 0;
	ck_assert_ptr_null(hak_malloc(8 * MiB));
	ck_assert_int_eq(errno, ENOMEM);
	q = hak_malloc(64);		/* from memory already mapped */
	ck_assert_ptr_nonnull(q);
	hak_free(q);
	ck_assert_int_eq(hak_set_limit(0, 0), 0);
	q = hak_malloc(8 * MiB);
	ck_assert_ptr_nonnull(q);
	hak_free(q);
	hak_free(p);
}
END_TEST

static void set_bad(void *arg)
{
	(void)arg;
	set_ret = hak_set_limit(2 * MiB, MiB);
}

START_TEST(soft_above_hard_is_refused)
{
	char buf[512];

	ck_assert_int_eq(hak_set_limit(0, 512 * MiB), 0);
	errno = 0;
	capture_stderr(set_bad, NULL, buf, sizeof(buf));
	ck_assert_int_eq(set_ret, -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(buf, "above hard limit"));
	ck_assert_uint_eq(stats().limit_hard, 512 * MiB);
	ck_assert_uint_eq(stats().limit_soft, 0);
}
END_TEST

static const char *parse_arg;
static int parse_ret;

static void parse(void *arg)
{
	long slot = 0;

	(void)arg;
	parse_ret = limit_parse_env(parse_arg, &slot);
}

/* HAKMEM_LIMIT's syntax, through the function the option table calls. */
START_TEST(env_syntax)
{
	static const char *const bad[] = {
		"", "x", "12X", "1G,", "2M,1M", "1M,2M,3M", "-1", "99999999999T",
	};
	char buf[512];
	long slot = 0;

	ck_assert_int_eq(limit_parse_env("64M,1G", &slot), 0);
	ck_assert_int_eq(slot, 1);
	ck_assert_uint_eq(stats().limit_soft, 64 * MiB);
	ck_assert_uint_eq(stats().limit_hard, 1024 * MiB);
	ck_assert_int_eq(limit_parse_env("512k", &slot), 0);
	ck_assert_uint_eq(stats().limit_soft, 512 << 10);
	ck_assert_uint_eq(stats().limit_hard, 0);
	ck_assert_int_eq(limit_parse_env("1048576,2g", &slot), 0);
	ck_assert_uint_eq(stats().limit_soft, MiB);
	ck_assert_uint_eq(stats().limit_hard, 2048 * MiB);
	ck_assert_int_eq(limit_parse_env("0", &slot), 0);
	ck_assert_int_eq(slot, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_arg = bad[i];
		capture_stderr(parse, NULL, buf, sizeof(buf));
		ck_assert_msg(parse_ret == -1, "HAKMEM_LIMIT=%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(buf, "HAKMEM_LIMIT="));
	}
	ck_assert_uint_eq(stats().limit_soft, 0);
	ck_assert_uint_eq(stats().limit_hard, 0);
}
END_TEST

/* The environment variable itself, read at start-up of a new process. */
START_TEST(env_read_at_start)
{
	/* the program's own path: under valgrind /proc/self/exe is the tool */
	char *argv[] = { program_invocation_name, "--print-limits", NULL };
	char buf[128] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		dup2(fds[1], 1);
		setenv("HAKMEM_LIMIT", "96M,3G", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_str_eq(buf, "100663296 3221225472\n");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("limit");
	TCase *tc = tcase_create("limit");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, small_objects_up_to_the_hard_limit);
	tcase_add_test(tc, huge_objects_up_to_the_hard_limit);
	tcase_add_test(tc, soft_limit_releases_the_huge_cache);
	tcase_add_test(tc, hard_limit_below_mapped);
	tcase_add_test(tc, soft_above_hard_is_refused);
	tcase_add_test(tc, env_syntax);
	tcase_add_test(tc, env_read_at_start);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--print-limits")) {
		struct hak_global_stats st = stats();

		printf("%llu %llu\n", (unsigned long long)st.limit_soft,
		       (unsigned long long)st.limit_hard);
		return 0;
	}
	return check_run(suite());
}
