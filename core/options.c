// SPDX-License-Identifier: MIT
/*
 * The HAKMEM_* option table: name, default, range and meaning of each knob.
 * Documentation/tuning.rst describes the same rows.
 */
#include <string.h>

#include "limit.h"
#include "options.h"

extern char **environ;

struct option_desc {
	const char *name;
	long def;
	long min;
	long max;
	const char *const *words;	/* symbolic values, index = value */
	int (*parse)(const char *s, long *slot);	/* its own syntax */
};

static const char *const on_error_words[] = { "abort", "warn", NULL };
static const char *const cpu_id_words[] = { "cpu", "mm_cid", NULL };
static const char *const thp_words[] = { "never", "madvise", "always", NULL };

static const struct option_desc option_table[OPT_COUNT] = {
	[OPT_REFILL]	   = { "HAKMEM_REFILL", 32, 1, 256, NULL },
	[OPT_CACHE_GROW_KB] = { "HAKMEM_CACHE_GROW_KB", 512, 0, 1L << 20, NULL },
	[OPT_STATS]	   = { "HAKMEM_STATS", 0, 0, 1, NULL },
	[OPT_ON_ERROR]	   = { "HAKMEM_ON_ERROR", 0, 0, 1, on_error_words },
	[OPT_MIN_PARTIAL]  = { "HAKMEM_MIN_PARTIAL", 2, 0, 64, NULL },
	[OPT_SPARE_SS]	   = { "HAKMEM_SPARE_SUPERSLABS", 16, 0, 64, NULL },
	[OPT_DIRTY_MAX_KB] = { "HAKMEM_DIRTY_MAX_KB", 131072, 0, 1L << 30, NULL },
	[OPT_DECAY_MS]	   = { "HAKMEM_DECAY_MS", 1000, 0, 1L << 30, NULL },
	[OPT_FAIL_MMAP]	   = { "HAKMEM_FAIL_MMAP", 0, 0, 1L << 30, NULL },
	[OPT_HUGE_CACHE_KB] = { "HAKMEM_HUGE_CACHE_KB", 131072, 0, 1L << 30, NULL },
	[OPT_HUGE_DECAY_MS] = { "HAKMEM_HUGE_DECAY_MS", 1000, 0, 1L << 30, NULL },
	[OPT_POISON]	   = { "HAKMEM_POISON", 0, 0, 1, NULL },
	[OPT_GUARD]	   = { "HAKMEM_GUARD", 0, 0, 1, NULL },
	[OPT_RSEQ]	   = { "HAKMEM_RSEQ", 1, 0, 1, NULL },
	[OPT_CPU_ID]	   = { "HAKMEM_CPU_ID", 0, 0, 1, cpu_id_words },
	[OPT_NUMA]	   = { "HAKMEM_NUMA", 1, 0, 1, NULL },
	[OPT_NUMA_FAKE]	   = { "HAKMEM_NUMA_FAKE", 0, 0, 16, NULL },
	[OPT_THP]	   = { "HAKMEM_THP", THP_ALWAYS, 0, 2, thp_words },
	[OPT_BACKGROUND]   = { "HAKMEM_BACKGROUND", 0, 0, 1, NULL },
	[OPT_LIMIT]	   = { "HAKMEM_LIMIT", 0, 0, 1, NULL, limit_parse_env },
};

long option_values[OPT_COUNT] = {
	[OPT_REFILL] = 32, [OPT_CACHE_GROW_KB] = 512, [OPT_MIN_PARTIAL] = 2, [OPT_SPARE_SS] = 16,
	[OPT_DIRTY_MAX_KB] = 131072, [OPT_DECAY_MS] = 1000, [OPT_RSEQ] = 1, [OPT_HUGE_CACHE_KB] = 131072,
	[OPT_HUGE_DECAY_MS] = 1000,
	[OPT_NUMA] = 1, [OPT_THP] = THP_ALWAYS,
};

static int options_read;

static const char *env_lookup(const char *name)
{
	size_t n = strlen(name);

	if (!environ)
		return NULL;
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int parse_long(const char *s, long *out)
{
	long v = 0;
	int neg = *s == '-';

	s += neg;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (1L << 40))
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static void option_parse(const struct option_desc *d, long *slot)
{
	const char *s = env_lookup(d->name);
	long v;

	if (!s)
		return;
	if (d->parse) {
		d->parse(s, slot);
		return;
	}
	for (int i = 0; d->words && d->words[i]; i++) {
		if (!strcmp(s, d->words[i])) {
			*slot = i;
			return;
		}
	}
	if (parse_long(s, &v) || v < d->min || v > d->max)
		return;	/* an invalid value keeps the default */
	*slot = v;
}

/**
 * options_load() - read every HAKMEM_* variable from the environment
 *
 * Walks environ directly (getenv is fine too, but this keeps the allocator
 * free of any libc call that might allocate). When environ is not set up
 * yet (a call from the dynamic loader before libc is initialised) the
 * defaults stay and the read is retried from the library constructor.
 */
void options_load(void)
{
	if (!environ)
		return;
	for (int i = 0; i < OPT_COUNT; i++) {
		option_values[i] = option_table[i].def;
		option_parse(&option_table[i], &option_values[i]);
	}
	options_read = 1;
}

/**
 * options_loaded() - whether the environment has been read
 *
 * Return: 1 once options_load() found an environment.
 */
int options_loaded(void)
{
	return options_read;
}
