// SPDX-License-Identifier: GPL-2.0
/*
 * A short UFFDIO_MOVE demonstration: fill a scratch page, move it to a
 * registered destination, and show that the page moved without a copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *prog = "uffd-move-demo";

#include "uffd-util.h"	/* uffd_open(); the upstream ABI, where headers lack it */

static uint64_t pfn_of(void *addr)
{
	uint64_t entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	pread(fd, &entry, sizeof(entry),
	      (uintptr_t)addr / getpagesize() * sizeof(entry));
	close(fd);
	return entry & ((1ULL << 55) - 1);
}

int main(void)
{
	long psize = sysconf(_SC_PAGESIZE);
	size_t len = 4 * psize;
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_move mv = { 0 };
	char *src, *dst;
	uint64_t before;
	int uffd;

	uffd = uffd_open();	/* user-mode-only faults when unprivileged */
	if (uffd < 0) {
		perror("userfaultfd");
		return 1;
	}
	if (ioctl(uffd, UFFDIO_API, &api)) {
		printf("kernel %s: no UFFD_FEATURE_MOVE (%s)\n",
		       "lacks UFFDIO_MOVE", strerror(errno));
		return 1;
	}
	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		return 1;
	reg.range.start = (uintptr_t)dst;
	reg.range.len = len;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		perror("UFFDIO_REGISTER");
		return 1;
	}
	printf("UFFDIO_REGISTER: UFFDIO_MOVE %s for anonymous memory\n",
	       reg.ioctls & (1ULL << _UFFDIO_MOVE) ? "offered" : "NOT offered");
	for (size_t i = 0; i < len; i++)
		src[i] = 'A' + i / psize;
	before = pfn_of(src);

	mv.dst = (uintptr_t)dst;
	mv.src = (uintptr_t)src;
	mv.len = len;
	if (ioctl(uffd, UFFDIO_MOVE, &mv)) {
		printf("UFFDIO_MOVE failed: %s, moved %lld bytes\n",
		       strerror(errno), (long long)mv.move);
		return 1;
	}
	printf("UFFDIO_MOVE moved %lld of %zu bytes\n", (long long)mv.move, len);
	printf("dst pages now read: %c %c %c %c\n", dst[0], dst[psize],
	       dst[2 * psize], dst[3 * psize]);
	printf("same physical page at dst: %s\n",
	       before && pfn_of(dst) == before ? "yes (moved, not copied)" :
	       before ? "NO" : "unknown (pagemap hides PFNs)");
	printf("src reads as zero again: %s\n", src[0] == 0 ? "yes" : "NO");
	mv.move = 0;
	if (ioctl(uffd, UFFDIO_MOVE, &mv) && errno == EEXIST)
		printf("moving onto a mapped page says EEXIST (move=%lld)\n",
		       (long long)mv.move);
	return dst[0] == 'A' && dst[3 * psize] == 'D' && src[0] == 0 ? 0 : 1;
}
