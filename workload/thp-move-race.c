// SPDX-License-Identifier: GPL-2.0
/*
 * thp-move-race - several threads UFFDIO_MOVE the 4 KiB pages of the same
 * PMD-mapped THPs at once (thread t takes pages t, t+N, t+2N...), each to
 * its own empty registered destination, and every call is checked against
 * the contract: 0 and the page moved, or an error and nothing moved.
 *
 * Found with gcsim --thp on the 6.18 host kernel: now and then a call
 * returns EEXIST (move=-EEXIST) although it did move the page (the source is
 * empty, the destination holds the right data) and, as a failed call, wakes
 * nobody. Single-threaded it never happens.
 *
 * usage: thp-move-race [ROUNDS [THREADS [THPS]]]   (default 20 2 32)
 * Exit status: 0 no violation, 1 violations seen, 2 skipped (no
 * UFFD_FEATURE_MOVE or no THP), 3 system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *prog = "thp-move-race";

#include "uffd-util.h"

#define HP (2ul << 20)

static int uffd, nthreads = 2;
static long nthp = 32;
static char *src, *dst;
static long moved, eagain, bad;
static pthread_barrier_t bar;

static uint64_t tag(long i)
{
	return 0x7468706d6f7600ull ^ (uint64_t)i;
}

static void *worker(void *arg)
{
	long t = (long)arg;

	pthread_barrier_wait(&bar);
	for (long i = t; i < nthp * 512; i += nthreads) {
		struct uffdio_move m = {
			.dst = (uintptr_t)dst + i * 4096,
			.src = (uintptr_t)src + i * 4096, .len = 4096,
		};

		for (;;) {
			unsigned char sv = 0, dv = 0;

			if (ioctl(uffd, UFFDIO_MOVE, &m) == 0) {
				__atomic_add_fetch(&moved, 1, __ATOMIC_RELAXED);
				break;
			}
			if (errno == EAGAIN && m.move <= 0) {
				__atomic_add_fetch(&eagain, 1, __ATOMIC_RELAXED);
				continue;
			}
			mincore(src + i * 4096, 4096, &sv);
			mincore(dst + i * 4096, 4096, &dv);
			fprintf(stderr, "VIOLATION page %ld (subpage %ld of THP %ld): "
				"errno %d (%s), move=%lld, source %s, destination %s%s\n",
				i, i % 512, i / 512, errno, strerror(errno),
				(long long)m.move, sv & 1 ? "still mapped" : "empty",
				dv & 1 ? "mapped" : "empty",
				(dv & 1) && *(uint64_t *)(dst + i * 4096) == tag(i) ?
				" with this page's data" : "");
			__atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
			if (dv & 1) {
				struct uffdio_range r = { m.dst, 4096 };

				ioctl(uffd, UFFDIO_WAKE, &r);
			}
			break;
		}
	}
	return NULL;
}

static char *map2m(size_t len, int advice)
{
	char *p = map_aligned(len, HP, PROT_READ | PROT_WRITE, 0);

	madvise(p, len, advice);
	return p;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	pthread_t th[64];

	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (argc > 3)
		nthp = atol(argv[3]);
	if (argc > 4 || rounds < 1 || nthreads < 1 || nthreads > 64 || nthp < 1 ||
	    nthp > 512) {
		fprintf(stderr, "usage: thp-move-race [ROUNDS [THREADS(1-64) "
			"[THPS(1-512)]]]\n");
		return 2;
	}
	if (!(uffd_features() & UFFD_FEATURE_MOVE)) {
		printf("thp-move-race: skipped: no UFFD_FEATURE_MOVE\n");
		return 2;
	}
	uffd = uffd_create(UFFD_FEATURE_MOVE);
	for (int r = 0; r < rounds; r++) {
		size_t len = nthp * HP;

		src = map2m(len, MADV_HUGEPAGE);
		dst = map2m(len, MADV_NOHUGEPAGE);
		for (long i = 0; i < nthp * 512; i++)
			*(uint64_t *)(src + i * 4096) = tag(i);
		if (r == 0 && smaps_huge_kb(src) <= 0) {
			printf("thp-move-race: skipped: no THP at the source\n");
			return 2;
		}
		uffd_register(uffd, dst, len);
		pthread_barrier_init(&bar, NULL, nthreads);
		for (long t = 0; t < nthreads; t++)
			if (pthread_create(&th[t], NULL, worker, (void *)t))
				die(3, "pthread_create failed");
		for (int t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
		pthread_barrier_destroy(&bar);
		for (long i = 0; i < nthp * 512; i++) {
			unsigned char v = 0;

			mincore(dst + i * 4096, 4096, &v);
			if ((v & 1) && *(uint64_t *)(dst + i * 4096) != tag(i)) {
				fprintf(stderr, "VIOLATION page %ld: wrong data at the "
					"destination\n", i);
				bad++;
			}
		}
		munmap(src, len);
		munmap(dst, len);
	}
	printf("thp-move-race: rounds=%d threads=%d thps=%ld moved=%ld eagain=%ld "
	       "violations=%ld\n", rounds, nthreads, nthp, moved, eagain, bad);
	return bad ? 1 : 0;
}
