/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uffd-util.h - the small helpers gcsim, thp-move-race, uffd-bench and the
 * demo share: error exit, the clock, a random number generator, opening a
 * userfaultfd (with the user-mode-only fallback) and asking it for features,
 * smaps and aligned mappings. Static inline, so each program is still one
 * file to compile.
 *
 * The including program defines its name before the #include, for messages:
 *	static const char *prog = "gcsim";
 * and _GNU_SOURCE before its first system header.
 */
#ifndef UFFD_UTIL_H
#define UFFD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uffd-move-abi.h"

/* "PROG: message" on stderr */
static inline void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* "PROG: message" and exit with code (3: system error). */
static inline __attribute__((noreturn, format(printf, 2, 3)))
void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

/* After getopt named a bad option: "Try 'PROG --help'." and exit 2. */
static inline __attribute__((noreturn)) void try_help(void)
{
	fprintf(stderr, "Try '%s --help'.\n", prog);
	exit(2);
}

/* A bad argument: "PROG: message", then try_help(). */
static inline __attribute__((noreturn, format(printf, 1, 2)))
void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	try_help();
}

/* ------------------------------------------------------------------ */
/* clock                                                               */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Smallest step of CLOCK_MONOTONIC seen (bounded to ~100 ms of probing).
 * A guest without a usable clocksource runs on jiffies: 1-10 ms steps. */
static inline uint64_t measure_clock_res(void)
{
	uint64_t best = UINT64_MAX, start = now_ns(), t = start;
	int seen = 0;

	while (seen < 5 && now_ns() - start < 100000000ull) {
		uint64_t u = now_ns();

		if (u != t) {
			if (u - t < best)
				best = u - t;
			seen++;
			t = u;
		}
	}
	return best == UINT64_MAX ? 100000000ull : best;
}

/* ------------------------------------------------------------------ */
/* random numbers: splitmix64                                          */

static inline uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* the next number of the sequence whose state is *s */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = splitmix(*s);

	*s += 0x9e3779b97f4a7c15ull;
	return x;
}

/* ------------------------------------------------------------------ */
/* userfaultfd                                                         */

/* A non-blocking userfaultfd; without the privilege to handle kernel-mode
 * faults, one that handles user-mode faults only (all these programs need).
 * -1 with errno on failure. */
static inline int uffd_open(void)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && (errno == EPERM || errno == EINVAL))
		fd = syscall(__NR_userfaultfd,
			     O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd;
}

/* The kernel's feature mask (test UFFD_FEATURE_MOVE in it), probed on a
 * throwaway fd: UFFDIO_API can be called once per fd. Exits (3) if
 * userfaultfd is unusable. */
static inline uint64_t uffd_features(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd = uffd_open();

	if (fd < 0)
		die(3, "userfaultfd: %s (needs CONFIG_USERFAULTFD and root or "
		    "vm.unprivileged_userfaultfd=1)", strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api))
		die(3, "UFFDIO_API: %s", strerror(errno));
	close(fd);
	return api.features;
}

/* A userfaultfd with these features enabled (exits (3) on failure). */
static inline int uffd_create(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = uffd_open();

	if (fd < 0)
		die(3, "userfaultfd: %s", strerror(errno));
	if (ioctl(fd, UFFDIO_API, &api))
		die(3, "UFFDIO_API(features=%#llx): %s",
		    (unsigned long long)features, strerror(errno));
	return fd;
}

/* Register [p, p+len) for MISSING faults (exits (3) on failure); returns
 * the ioctls the range supports (1 << _UFFDIO_MOVE, ...). */
static inline uint64_t uffd_register(int fd, void *p, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		die(3, "UFFDIO_REGISTER: %s", strerror(errno));
	return reg.ioctls;
}

/* ------------------------------------------------------------------ */
/* memory                                                              */

/* len bytes of anonymous private memory aligned to align (a power of two),
 * mmap flags | extra (e.g. MAP_NORESERVE); the slack is unmapped. */
static inline char *map_aligned(size_t len, size_t align, int prot, int extra)
{
	size_t tot = len + align;
	char *p = mmap(NULL, tot, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		die(3, "mmap %zu bytes: %s", tot, strerror(errno));
	a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + tot > a + len)
		munmap((char *)a + len, (uintptr_t)p + tot - (a + len));
	return (char *)a;
}

/* kB of AnonHugePages in the mapping containing addr, -1 if unknown */
static inline long smaps_huge_kb(void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {	/* a VMA header */
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return in ? kb : -1;
}

#endif /* UFFD_UTIL_H */
