/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uffd-move-abi.h - the userfaultfd UFFDIO_MOVE user ABI (upstream Linux 6.8+),
 * for building against userspace headers that predate it (Debian 12 ships
 * 6.1 headers). Binary-identical to include/uapi/linux/userfaultfd.h upstream.
 * Shared by workload/, bench/ and demo/ (through uffd-util.h).
 */
#ifndef UFFD_MOVE_ABI_H
#define UFFD_MOVE_ABI_H

#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif

#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE		((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES	((__u64)1 << 1)
	__u64 mode;
	/*
	 * "move" is written by the ioctl and must be at the end: the
	 * copy_from_user will not read the last 8 bytes.
	 */
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

_Static_assert(sizeof(struct uffdio_move) == 40, "uffdio_move ABI size");
_Static_assert(UFFDIO_MOVE == 0xc028aa05, "UFFDIO_MOVE ioctl number");

#endif /* UFFD_MOVE_ABI_H */
