// SPDX-License-Identifier: MIT
/*
 * larson_cxx - larson (the driver is in larson.h) as a C++ program:
 * objects come from operator new and go back through the sized operator
 * delete.
 *
 * The calls are "::operator new(size)" and "::operator delete(p, size)",
 * the pair std::allocator and the node containers use when built with
 * -fsized-deallocation: an allocator that exports the sized delete can
 * free without looking the size up; under LD_PRELOAD of one that does not,
 * libstdc++'s operator delete calls free(). One op is one delete+new
 * replacement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <new>

#define NAME "larson_cxx"
#include "larson.h"

static void *larson_new(size_t size)
{
	void *p = ::operator new(size);

	bench_fill(p, size);
	return p;
}

static void larson_delete(void *p, size_t size)
{
	if (bench_check(p, size))
		bench_corrupt(NAME, p, size);
	::operator delete(p, size);
}

/**
 * main() - run the benchmark and print its RESULT line
 * @argc: argument count
 * @argv: arguments, see the usage message
 *
 * Return: 0 on success; the program exits with 1 on bad options, 2 on a
 * damaged object (BENCH_EXIT_CORRUPT); std::bad_alloc terminates it when
 * an allocation fails.
 */
int main(int argc, char **argv)
{
	return larson_main(argc, argv);
}
