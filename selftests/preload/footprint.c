// SPDX-License-Identifier: MIT
/*
 * footprint: the peak RSS (VmHWM) of a tiny program under
 * LD_PRELOAD=libhakmem.so, against the same program on glibc's malloc,
 * measured in the same run (issue 12, item 4).
 *
 * Usage: footprint PATH/TO/libhakmem.so
 *
 * The tiny program is this one, run as "footprint --child": ten small
 * mallocs written to, then its VmHWM printed with stdio (whose buffer is
 * one more allocation). It is built without anything of hakmem's, so the
 * glibc run sees glibc alone. Both runs are made with address space
 * randomisation off (personality(ADDR_NO_RANDOMIZE)): which pages of libc
 * the kernel maps around a fault depends on where libc lands, and with it
 * off the figures repeat exactly (with it on, glibc's own peak varies by
 * 200 KiB from run to run). Each is run RUNS times and the medians are
 * compared.
 *
 * The check is the target, hakmem within 256 KiB of glibc
 * (FOOTPRINT_MAX_KB), which the lazy start-up meets: a bin's first refill
 * of one page, no per-CPU region before the 64th slow operation
 * (Documentation/tuning.rst, "The footprint of a small program", has the
 * figures and what the rest is). The library before them was 408 KiB
 * above.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/tap.h"

#define RUNS		5
#define NR_ALLOCS	10
#define FOOTPRINT_MAX_KB	256

struct hwm {
	long hwm_kb;
	long anon_kb;
	long file_kb;
};

/* The tiny program: a few KiB allocated, then its own status printed. */
static int child(void)
{
	char line[256];
	void *p[NR_ALLOCS];
	FILE *f;

	for (int i = 0; i < NR_ALLOCS; i++) {
		p[i] = malloc(16 + (size_t)i * 100);
		if (!p[i])
			return 1;
		memset(p[i], 1, 16 + (size_t)i * 100);
	}
	f = fopen("/proc/self/status", "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6) ||
		    !strncmp(line, "RssAnon:", 8) ||
		    !strncmp(line, "RssFile:", 8))
			fputs(line, stdout);
	fclose(f);
	for (int i = 0; i < NR_ALLOCS; i++)
		free(p[i]);
	return 0;
}

static long field(const char *buf, const char *key)
{
	const char *s = strstr(buf, key);

	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

/* Runs the child with @preload (or none); fills @out. Return: 0 or -1. */
static int run_child(const char *self, const char *preload, struct hwm *out)
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		personality(ADDR_NO_RANDOMIZE);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(self, self, "--child", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(buf) - 1 &&
	       (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	out->hwm_kb = field(buf, "VmHWM:");
	out->anon_kb = field(buf, "RssAnon:");
	out->file_kb = field(buf, "RssFile:");
	return out->hwm_kb > 0 ? 0 : -1;
}

static int cmp_hwm(const void *a, const void *b)
{
	const struct hwm *x = a, *y = b;

	return (x->hwm_kb > y->hwm_kb) - (x->hwm_kb < y->hwm_kb);
}

/* The run of median VmHWM of RUNS runs. Return: 0 or -1. */
static int median_run(const char *self, const char *preload, struct hwm *out)
{
	struct hwm r[RUNS];

	for (int i = 0; i < RUNS; i++)
		if (run_child(self, preload, &r[i]))
			return -1;
	qsort(r, RUNS, sizeof(r[0]), cmp_hwm);
	*out = r[RUNS / 2];
	return 0;
}

int main(int argc, char **argv)
{
	struct hwm g, h;
	char self[4096];
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child();
	tap_plan(1);
	if (argc < 2 || access(argv[1], R_OK)) {
		tap_skip_test("footprint", "usage: footprint PATH/TO/libhakmem.so");
		return tap_exit();
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		tap_skip_test("footprint", "no /proc/self/exe");
		return tap_exit();
	}
	self[n] = '\0';
	if (median_run(self, NULL, &g) || median_run(self, argv[1], &h)) {
		tap_result(0, "the tiny program failed to run (errno %d)", errno);
		return tap_exit();
	}
	tap_diag("glibc:  VmHWM %ld KiB (RssAnon %ld, RssFile %ld)", g.hwm_kb,
		 g.anon_kb, g.file_kb);
	tap_diag("hakmem: VmHWM %ld KiB (RssAnon %ld, RssFile %ld)", h.hwm_kb,
		 h.anon_kb, h.file_kb);
	tap_result(h.hwm_kb - g.hwm_kb <= FOOTPRINT_MAX_KB,
		   "tiny program: hakmem's peak RSS is %ld KiB above glibc's (at most %d)",
		   h.hwm_kb - g.hwm_kb, FOOTPRINT_MAX_KB);
	return tap_exit();
}
