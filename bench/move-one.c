// SPDX-License-Identifier: GPL-2.0
/*
 * move-one - the one-page UFFDIO_MOVE of a fault handler, in a loop, for
 * wb/profile.py: CALLS calls, each moving one page between two
 * uffd-registered regions of PAGES pages (separate mappings, so separate
 * anon_vmas), back and forth, in a scattered order.  The calls run between
 * profile_start() and profile_stop(), the marks of bench/qprof.c.
 *
 *   usage: move-one CALLS [PAGES]    (CALLS a multiple of PAGES, default 64)
 * Exit status: 0 ok, 1 a page lost its data, 2 bad usage, 3 system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *prog = "move-one";

#include "../workload/uffd-util.h"

static void move_page(int uffd, char *dst, char *src, size_t pg)
{
	struct uffdio_move m = {
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = pg,
	};

	if (ioctl(uffd, UFFDIO_MOVE, &m))
		die(3, "UFFDIO_MOVE: %s", strerror(errno));
}

/* Marks for bench/qprof.c: it counts what runs from one to the other. */
__attribute__((noinline)) void profile_start(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void profile_stop(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	size_t pg = sysconf(_SC_PAGESIZE), pages, i, calls, step;
	char *a, *b, *side[2];
	int uffd;

	if (argc < 2 || argc > 3)
		die(2, "usage: move-one CALLS [PAGES]");
	calls = strtoul(argv[1], NULL, 0);
	pages = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	if (!pages || calls % pages)
		die(2, "CALLS must be a multiple of PAGES (%zu)", pages);
	if (!(uffd_features() & UFFD_FEATURE_MOVE))
		die(3, "this kernel has no UFFDIO_MOVE");
	uffd = uffd_create(UFFD_FEATURE_MOVE);
	/* a guard page between them keeps the two mappings apart */
	a = map_aligned(pages * pg, pg, PROT_READ | PROT_WRITE, 0);
	b = map_aligned((pages + 1) * pg, pg, PROT_READ | PROT_WRITE, 0);
	mprotect(b, pg, PROT_NONE);
	b += pg;
	for (i = 0; i < pages; i++)
		*(uint64_t *)(a + i * pg) = i;
	uffd_register(uffd, a, pages * pg);
	uffd_register(uffd, b, pages * pg);
	side[0] = a;
	side[1] = b;
	/* 37 is prime to any power-of-two PAGES: every page, scattered */
	step = pages % 37 ? 37 : 1;
	profile_start();
	for (i = 0; i < calls; i++) {
		size_t lap = i / pages, k = (i * step) % pages;
		char *src = side[lap & 1], *dst = side[!(lap & 1)];

		move_page(uffd, dst + k * pg, src + k * pg, pg);
	}
	profile_stop();
	for (i = 0; i < pages; i++) {
		char *p = side[(calls / pages) & 1] + i * pg;

		if (*(uint64_t *)p != i)
			die(1, "page %zu holds %llu", i,
			    (unsigned long long)*(uint64_t *)p);
	}
	return 0;
}
