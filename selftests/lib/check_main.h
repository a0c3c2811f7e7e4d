/* SPDX-License-Identifier: MIT */
/*
 * The main() of the Check unit tests: run one suite, exit 0 when every
 * check passed; and, for tests that need HAKMEM_* options (which the
 * allocator reads once at start-up), a re-execution with them set.
 */
#ifndef HAK_SELFTEST_CHECK_MAIN_H
#define HAK_SELFTEST_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem/hakmem.h"
#include "../../core/percpu.h"

/*
 * Takes the allocator past its lazy start (HAK_LAZY_OPS slow operations
 * that skip the fast-path caches, core/percpu.c), so that the tests see
 * the steady state; selftests/unit/test_lazy.c tests the start itself.
 */
static inline void check_warm_up(void)
{
	for (int i = 0; i < HAK_LAZY_OPS; i++)
		hak_free(hak_malloc(8));
}

/**
 * check_run() - run a suite with Check's defaults (a fork per test)
 * @s: the suite
 *
 * Return: EXIT_SUCCESS when every test passed, else EXIT_FAILURE.
 */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	check_warm_up();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/**
 * check_reexec_with() - run this program again with options in its
 * environment, unless the first one is set already
 * @argv: the program's arguments
 * @env: "NAME=value" strings, NULL-terminated
 *
 * Returns only when the options are in force (or execv failed).
 */
static inline void check_reexec_with(char **argv, const char *const *env)
{
	char name[64];
	const char *eq = strchr(env[0], '=');
	size_t n = eq ? (size_t)(eq - env[0]) : strlen(env[0]);

	if (n >= sizeof(name))
		return;
	memcpy(name, env[0], n);
	name[n] = '\0';
	if (getenv(name))
		return;
	for (int i = 0; env[i]; i++)
		putenv((char *)env[i]);
	execv("/proc/self/exe", argv);
}

/**
 * check_run_both_modes() - run a suite in the mode the environment gives,
 * then, when it passed and HAKMEM_RSEQ is not set, again in the
 * per-thread mode (the program runs itself again with HAKMEM_RSEQ=0)
 * @s: the suite
 * @argv: the program's arguments
 *
 * Return: as check_run(), for the last run made.
 */
static inline int check_run_both_modes(Suite *s, char **argv)
{
	static const char *const per_thread[] = { "HAKMEM_RSEQ=0", NULL };
	const char *name = strrchr(argv[0], '/');
	int rc = check_run(s);

	if (rc == EXIT_SUCCESS && !getenv("HAKMEM_RSEQ")) {
		printf("%s: again in the per-thread mode\n",
		       name ? name + 1 : argv[0]);
		fflush(stdout);
		check_reexec_with(argv, per_thread);
	}
	return rc;
}

#endif /* HAK_SELFTEST_CHECK_MAIN_H */
