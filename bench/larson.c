// SPDX-License-Identifier: MIT
/*
 * larson - Larson & Krishnan server simulation with malloc() and free();
 * the driver is in larson.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define NAME "larson"
#include "larson.h"

static void *larson_new(size_t size)
{
	void *p = malloc(size);

	if (!p)
		bench_oom(NAME, size);
	bench_fill(p, size);
	return p;
}

static void larson_delete(void *p, size_t size)
{
	if (bench_check(p, size))
		bench_corrupt(NAME, p, size);
	free(p);
}

/**
 * main() - run the benchmark and print its RESULT line
 * @argc: argument count
 * @argv: arguments, see the usage message
 *
 * Return: 0 on success; the program exits with 1 on bad options, 2 on a
 * damaged object (BENCH_EXIT_CORRUPT) and 3 when an allocation fails.
 */
int main(int argc, char **argv)
{
	return larson_main(argc, argv);
}
