// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-fuzz - a seeded fuzzer of UFFDIO_MOVE and its neighbours.
 *
 * A few threads work on one small arena of address space at a fixed place
 * (so nothing else of the process ever lands in it): they map, unmap,
 * remap, madvise, mprotect, mlock, touch, register and unregister its
 * ranges with two userfaultfds (A without events, B with the fork, remap,
 * remove and unmap events), fork children that work on their copy, and in
 * between call UFFDIO_MOVE with random arguments: aligned or not, lengths
 * that cross or leave VMAs, zero or huge, unknown mode bits, kernel
 * addresses, ranges registered with the other uffd, a uffd never
 * initialised.  Every call is checked against the contract's results table
 * (../../shared/uffdio-move.md): an errno the table does not list, or a
 * `move` field that does not go with the result, is a failure.
 *
 * A watchdog ends the run if no thread makes progress for 60 s.  The last
 * line is "N passed, N failed"; exit status 0, or 1 if a check failed,
 * 2 usage, 3 system error, 4 skipped (no UFFD_FEATURE_MOVE).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

static const char *prog = "uffd-fuzz";

#include "uffd-util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

/* the arena: far below mmap_base, inside a 39-bit address space */
#define ARENA_HINT (sizeof(long) == 8 ? 0x4000000000ull : 0x50000000ull)
#define SENTINEL 0x7a7a7a7a7a7aLL

static struct {
	uint64_t seed;
	long calls;
	double seconds;
	int threads;
	long arena_pages;
	int verbose;
} opt = { .seed = 1, .threads = 3, .arena_pages = 1024 };

static void usage(void)
{
	printf(
"usage: uffd-fuzz [options]\n"
"Fuzzes UFFDIO_MOVE arguments, interleaved with mmap, munmap, mremap,\n"
"madvise, mprotect, mlock, fork and UFFDIO_(UN)REGISTER on the same ranges\n"
"from several threads; every UFFDIO_MOVE result is checked against the\n"
"contract. Last line: \"N passed, N failed\".\n\n"
"  --seed N          seed of every random choice (default 1)\n"
"  --calls N         stop after N fuzzed system calls (default: none)\n"
"  --seconds S       stop after S seconds (default 10 if no --calls);\n"
"                    with both, whichever comes first; missing the call\n"
"                    goal is a failure\n"
"  --threads N       fuzzing threads (default 3)\n"
"  --arena-pages N   pages of the arena they share (default 1024)\n"
"  -v, --verbose     progress lines\n"
"  -h, --help        this text\n");
}

static long ps, arena_len, min_addr = 4096;
static char *arena;
static int uffd_a, uffd_b, uffd_c, exe_fd;
static volatile int stop;
static long n_calls, n_moves, n_move_ok, n_fail, n_forks, n_child_fail;
static long n_faults, n_events;
static long errno_seen[160];
static long n_printed;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void add(long *c, long n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static __thread int in_child;

/* "# FAIL: ..." (a fork child writes it itself: another thread may have
 * held stdout's lock when it forked) */
static __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = sprintf(buf, "# FAIL: ");

	add(&n_fail, 1);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (in_child) {
		(void)!write(1, buf, n);
		return;
	}
	pthread_mutex_lock(&out_lock);
	if (n_printed++ < 40) {
		fwrite(buf, 1, n, stdout);
		fflush(stdout);
	}
	pthread_mutex_unlock(&out_lock);
}

/* ------------------------------------------------------------------ */
/* random arguments                                                    */

struct fuzzer {
	uint64_t rng;
	int id;
	int pipe[2];
	int child;		/* running in a fork child */
	long progress;		/* ops done, for the watchdog */
	int op;			/* the op running now */
	pid_t tid;
	char buf[4096];
};

static uint64_t r64(struct fuzzer *f)
{
	return rnd(&f->rng);
}

static long rn(struct fuzzer *f, long n)
{
	return n > 0 ? (long)(r64(f) % n) : 0;
}

/* a page-aligned range inside the arena: mostly small, sometimes up to all
 * of it; *len gets its length */
static char *arena_range(struct fuzzer *f, long *len)
{
	long max = rn(f, 8) ? 16 : rn(f, 4) ? 512 : opt.arena_pages;
	long n = 1 + rn(f, max), first;

	if (n > opt.arena_pages)
		n = opt.arena_pages;
	first = rn(f, opt.arena_pages - n + 1);
	*len = n * ps;
	return arena + first * ps;
}

/* an address for UFFDIO_MOVE: *bad says it breaks validate-range rules */
static uint64_t move_addr(struct fuzzer *f, int *bad, int may_escape)
{
	long len;
	unsigned k = rn(f, 100);

	if (k < 80 || !may_escape)
		return (uintptr_t)arena_range(f, &len) +
		       (rn(f, 40) ? 0 : (*bad = 1, 1 + rn(f, ps - 1)));
	if (k % 5 != 0)		/* 0 and ps: as mmap_min_addr says */
		*bad = 1;
	switch (k % 5) {
	case 0: return rn(f, 2) ? 0 : ps;		/* below mmap_min_addr? */
	case 1: return 0xffff888000000000ull;		/* kernel direct map */
	case 2: return 0x7ffffffff000ull;		/* last user page */
	case 3: return (r64(f) & ~(uint64_t)(ps - 1)) | 1ull << 63;
	default: return 0xffffffffff600000ull;	/* vsyscall page */
	}
}

/* ------------------------------------------------------------------ */
/* the UFFDIO_MOVE call and its check                                  */

static const char *mode_name(uint64_t mode, char *buf)
{
	sprintf(buf, "%#llx", (unsigned long long)mode);
	return buf;
}

/* The results table: errno and `move` must go together. */
static void check_move(struct fuzzer *f, int fd, struct uffdio_move *mv,
		       int bad, int low, int r, int err)
{
	char m[32];
	const char *which = fd == uffd_a ? "A" : fd == uffd_b ? "B" : "C";
	int ok;

	if (r == 0) {
		ok = !bad && mv->move == (long long)mv->len;
		if (ok)
			add(&n_move_ok, 1);
	} else if (err == EAGAIN) {	/* progress, or an event pending */
		ok = mv->move == -EAGAIN ||
		     (!bad && mv->move >= 0 && mv->move < (long long)mv->len &&
		      mv->move % ps == 0);
	} else if (bad) {
		ok = err == EINVAL && mv->move == SENTINEL;
		/* dst below mmap_min_addr: 6.8 refuses it as no user address,
		 * later kernels look for its VMA */
		if (low && err == ENOENT && mv->move == -ENOENT)
			ok = 1;
	} else {
		ok = (err == EINVAL || err == ENOENT || err == EEXIST ||
		      err == EBUSY || err == ENOMEM) && mv->move == -err;
	}
	if (err > 0 && err < 160)
		add(&errno_seen[err], 1);
	if (!ok)
		fail("%sUFFDIO_MOVE(uffd %s, dst %#llx, src %#llx, len %#llx, "
		     "mode %s) = %d errno %s, move %lld%s (%s arguments)",
		     f->child ? "fork child: " : "", which,
		     (unsigned long long)mv->dst, (unsigned long long)mv->src,
		     (unsigned long long)mv->len, mode_name(mv->mode, m), r,
		     r ? strerror(err) : "-", (long long)mv->move,
		     mv->move == SENTINEL ? " (not written)" : "",
		     bad ? "bad" : "valid");
}

static void op_move(struct fuzzer *f)
{
	int bad = 0, low = 0, fd, k = rn(f, 100), r, err;
	struct uffdio_move mv = { .move = SENTINEL };
	long len;

	fd = k < 60 ? uffd_a : k < 95 ? uffd_b : uffd_c;
	bad = fd == uffd_c || f->child;	/* not initialised / not our mm */
	mv.dst = move_addr(f, &bad, 1);
	mv.src = move_addr(f, &bad, 0);		/* never our own memory */
	k = rn(f, 100);
	if (k < 70) {
		mv.len = (1 + rn(f, 16)) * ps;
	} else if (k < 85) {
		arena_range(f, &len);
		mv.len = len;
	} else {
		bad = 1;
		switch (k % 4) {
		case 0: mv.len = 0; break;
		case 1: mv.len = 1 + rn(f, 3 * ps); mv.len += !(mv.len % ps);
			break;
		case 2: mv.len = 1ull << (47 + rn(f, 17)); break;
		default: mv.len = -(uint64_t)ps; break;
		}
	}
	if (mv.dst < (uint64_t)min_addr)
		bad = 1;
	if (!bad && (mv.dst + mv.len > 0x7ffffffff000ull ||
		     mv.src + mv.len > 0x7ffffffff000ull))
		bad = 1;
	k = rn(f, 100);
	mv.mode = k < 80 ? (uint64_t)rn(f, 4) : 1ull << (2 + rn(f, 62));
	if (mv.mode & ~3ull)
		bad = 1;
	low = mv.dst < (uint64_t)min_addr && fd != uffd_c && !f->child &&
	      !((mv.dst | mv.src | mv.len) & (ps - 1)) && mv.len &&
	      mv.len < (1ull << 40) && !(mv.mode & ~3ull);
	r = ioctl(fd, UFFDIO_MOVE, &mv);
	err = r ? errno : 0;
	add(&n_moves, 1);
	check_move(f, fd, &mv, bad, low, r, err);
}

/* ------------------------------------------------------------------ */
/* the neighbours                                                      */

static void op_mmap(struct fuzzer *f)
{
	long len;
	char *p = arena_range(f, &len);
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ,
				     PROT_NONE, PROT_READ | PROT_WRITE };
	int k = rn(f, 10), prot = prots[rn(f, 4)];
	int flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;

	if (k == 0) {
		flags = MAP_FIXED | MAP_SHARED | MAP_ANONYMOUS;
	} else if (k == 1 && exe_fd >= 0) {
		flags = MAP_FIXED | MAP_PRIVATE;
		fd = exe_fd;
		len = ps * (1 + rn(f, 4));
	} else if (k == 2 && len <= 16 * ps) {
		flags |= MAP_POPULATE;
	}
	mmap(p, len, prot, flags, fd, 0);
}

static void op_munmap(struct fuzzer *f)
{
	long len;
	char *p = arena_range(f, &len);

	munmap(p, len);
}

static void op_mremap(struct fuzzer *f)
{
	long len, nlen;
	char *p = arena_range(f, &len), *q = arena_range(f, &nlen);
	int flags = MREMAP_MAYMOVE | MREMAP_FIXED;

	if (rn(f, 4) == 0) {
		flags |= MREMAP_DONTUNMAP;
		nlen = len;
	}
	if (q < p + len && p < q + nlen)	/* overlapping: EINVAL */
		q = p;
	mremap(p, len, nlen, flags, q);
}

static void op_madvise(struct fuzzer *f)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_FREE, MADV_COLD, MADV_PAGEOUT,
		MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE, MADV_WILLNEED,
		MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK,
		MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_POPULATE_WRITE,
		MADV_DONTNEED,
	};
	long len;
	char *p = arena_range(f, &len);
	int a = advice[rn(f, sizeof(advice) / sizeof(advice[0]))];

	if ((a == MADV_POPULATE_WRITE || a == MADV_COLLAPSE ||
	     a == MADV_PAGEOUT) && len > 16 * ps && rn(f, 8))
		len = 16 * ps;		/* slow under TCG: mostly small */
	madvise(p, len, a);
}

static void op_mprotect(struct fuzzer *f)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ,
				     PROT_NONE, PROT_READ | PROT_WRITE };
	long len;
	char *p = arena_range(f, &len);

	mprotect(p, len, prots[rn(f, 4)]);
}

static void op_mlock(struct fuzzer *f)
{
	long len;
	char *p = arena_range(f, &len);

	if (len > 16 * ps)
		len = 16 * ps;
	/* MLOCK_ONFAULT only: a plain mlock, then mprotect(PROT_WRITE),
	 * populates without FAULT_FLAG_ALLOW_RETRY, and 6.1's DEBUG_VM
	 * handle_userfault() then prints "FAULT_FLAG_ALLOW_RETRY missing"
	 * with a stack dump (pre-existing, not UFFDIO_MOVE's) */
	if (rn(f, 2))
		syscall(__NR_mlock2, p, len, MLOCK_ONFAULT);
	else
		munlock(p, len);
}

/* Write or read a range through the kernel, so an unmapped or read-only
 * page gives EFAULT instead of a signal; process_vm_writev pins pages,
 * which a concurrent move must answer with EBUSY. */
static void op_touch(struct fuzzer *f)
{
	long len;
	char *p = arena_range(f, &len);
	struct iovec local = { f->buf, ps }, remote = { p, ps };

	switch (rn(f, 3)) {
	case 0:
		for (long i = 0; i < len && i < 4 * ps; i += ps) {
			memset(f->buf, (int)r64(f), 64);
			remote.iov_base = p + i;
			syscall(__NR_process_vm_writev, getpid(), &local, 1,
				&remote, 1, 0);
		}
		break;
	case 1:		/* both ends non-blocking: a partial write is drained */
		if (write(f->pipe[1], p, ps) > 0)
			while (read(f->pipe[0], f->buf, ps) > 0)
				;
		break;
	default:
		syscall(__NR_process_vm_readv, getpid(), &local, 1, &remote, 1,
			0);
		break;
	}
}

static void op_register(struct fuzzer *f)
{
	long len;
	char *p = arena_range(f, &len);
	int fd = rn(f, 2) ? uffd_a : uffd_b;

	if (rn(f, 3)) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)p, len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		ioctl(fd, UFFDIO_REGISTER, &reg);
	} else {
		struct uffdio_range rg = { (uintptr_t)p, len };

		ioctl(fd, UFFDIO_UNREGISTER, &rg);
	}
}

static void run_ops(struct fuzzer *f, long n);

/* The child works on its copy for a moment; its moves through the
 * parent's uffds must all be refused as cross-mm (checked in op_move). */
static void op_fork(struct fuzzer *f)
{
	pid_t pid;
	int status;

	if (f->child)
		return;
	pid = fork();
	if (pid == 0) {
		long before = n_fail;

		alarm(30);
		in_child = 1;
		f->child = 1;
		f->rng ^= 0xc4;
		run_ops(f, 40);
		_exit(n_fail == before ? 0 : 1);
	}
	if (pid < 0)
		return;
	add(&n_forks, 1);
	if (waitpid(pid, &status, 0) == pid &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		add(&n_child_fail, 1);
		fail("fork child: status %#x", status);
	}
}

static const struct {
	void (*fn)(struct fuzzer *);
	const char *name;
	int weight;
} ops[] = {
	{ op_move, "move", 800 }, { op_mmap, "mmap", 40 },
	{ op_munmap, "munmap", 20 }, { op_mremap, "mremap", 20 },
	{ op_madvise, "madvise", 40 }, { op_mprotect, "mprotect", 40 },
	{ op_mlock, "mlock", 10 }, { op_touch, "touch", 30 },
	{ op_register, "register", 60 }, { op_fork, "fork", 1 },
};
#define NOPS (int)(sizeof(ops) / sizeof(ops[0]))
static long op_count[NOPS], op_ns[NOPS];

static int pick_op(struct fuzzer *f)
{
	int total = 0, k;

	for (k = 0; k < NOPS; k++)
		total += ops[k].weight;
	total = rn(f, total);
	for (k = 0; total >= ops[k].weight; k++)
		total -= ops[k].weight;
	return k;
}

static void run_ops(struct fuzzer *f, long n)
{
	for (long i = 0; i < n && !stop; i++) {
		uint64_t t0 = now_ns();

		f->op = pick_op(f);
		ops[f->op].fn(f);
		add(&op_count[f->op], 1);
		add(&op_ns[f->op], now_ns() - t0);
		if (!f->child) {
			add(&n_calls, 1);
			__atomic_add_fetch(&f->progress, 1, __ATOMIC_RELAXED);
		}
	}
}

static void *fuzz_main(void *arg)
{
	struct fuzzer *f = arg;

	f->tid = gettid();
	while (!stop)
		run_ops(f, 64);
	f->id = -1;		/* done: the watchdog stops watching it */
	return NULL;
}

/* ------------------------------------------------------------------ */
/* fault handler, watchdog                                             */

static void serve(int fd)
{
	struct uffd_msg msg;

	if (read(fd, &msg, sizeof(msg)) != sizeof(msg))
		return;
	if (msg.event == UFFD_EVENT_PAGEFAULT) {
		struct uffdio_zeropage z = { .range = {
			msg.arg.pagefault.address & ~(ps - 1), ps } };
		struct uffdio_range r = z.range;

		add(&n_faults, 1);
		if (ioctl(fd, UFFDIO_ZEROPAGE, &z) == 0)
			return;
		/* EAGAIN: an event is pending that may wait for this very
		 * fault (mremap populating a locked VMA): let the page go */
		if (errno == EAGAIN)
			ioctl(fd, UFFDIO_UNREGISTER, &r);
		ioctl(fd, UFFDIO_WAKE, &r);
	} else {
		add(&n_events, 1);
		if (msg.event == UFFD_EVENT_FORK)
			close(msg.arg.fork.ufd);
	}
}

static void *handler_main(void *arg)
{
	struct pollfd p[2] = { { .fd = uffd_a, .events = POLLIN },
			       { .fd = uffd_b, .events = POLLIN } };

	(void)arg;
	for (;;) {
		if (poll(p, 2, 100) <= 0) {
			if (stop == 2)
				break;
			continue;
		}
		for (int i = 0; i < 2; i++)
			if (p[i].revents & POLLIN)
				serve(p[i].fd);
	}
	return NULL;
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - uffd-fuzz hung (alarm)\n"
				  "0 passed, 1 failed\n";
	static const char cmsg[] = "# FAIL: fork child hung (alarm)\n";
	(void)sig;
	if (in_child)
		(void)!write(1, cmsg, sizeof(cmsg) - 1);
	else
		(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static struct fuzzer *fz;

/* Every fuzzing thread must make progress; after the stop, they must all
 * return (a thread stuck in the kernel is a hang). */
static void *watchdog_main(void *arg)
{
	long last[32], still[32] = { 0 };

	(void)arg;
	for (int i = 0; i < opt.threads; i++)
		last[i] = -1;
	while (stop != 2) {
		sleep(1);
		for (int i = 0; i < opt.threads; i++) {
			long p = __atomic_load_n(&fz[i].progress,
						 __ATOMIC_RELAXED);

			if (p != last[i] || fz[i].id < 0) {
				last[i] = p;
				still[i] = 0;
			} else if (++still[i] >= 60) {
				char path[64], buf[2048];
				int fd, n = 0;

				snprintf(path, sizeof(path),
					 "/proc/self/task/%d/stack", fz[i].tid);
				fd = open(path, O_RDONLY);
				if (fd >= 0) {
					n = read(fd, buf, sizeof(buf) - 1);
					close(fd);
				}
				buf[n > 0 ? n : 0] = 0;
				printf("# thread %d in op %d, kernel stack:\n%s",
				       i, fz[i].op, buf);
				printf("not ok - thread %d made no progress "
				       "for 60 s: it hangs (%ld calls done)\n"
				       "0 passed, 1 failed\n", i, n_calls);
				fflush(stdout);
				_exit(1);
			}
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* setup and main                                                      */

static void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", 1, 0, 's' }, { "calls", 1, 0, 'c' },
		{ "seconds", 1, 0, 't' }, { "threads", 1, 0, 'T' },
		{ "arena-pages", 1, 0, 'a' }, { "verbose", 0, 0, 'v' },
		{ "help", 0, 0, 'h' }, { 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'c': opt.calls = atol(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'T': opt.threads = atoi(optarg); break;
		case 'a': opt.arena_pages = atol(optarg); break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(); exit(0);
		default: try_help();
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.threads < 1 || opt.threads > 32 || opt.arena_pages < 16 ||
	    opt.calls < 0 || opt.seconds < 0)
		usage_error("need 1 <= --threads <= 32, --arena-pages >= 16");
	if (!opt.calls && !opt.seconds)
		opt.seconds = 10;
}

static void setup(void)
{
	struct uffdio_register reg;

	ps = sysconf(_SC_PAGESIZE);
	arena_len = opt.arena_pages * ps;
	arena = mmap((void *)ARENA_HINT, arena_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (arena == MAP_FAILED)
		die(3, "arena at %#llx: %s", (unsigned long long)ARENA_HINT,
		    strerror(errno));
	uffd_a = uffd_create(UFFD_FEATURE_MOVE);
	uffd_b = uffd_create(UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_FORK |
			     UFFD_FEATURE_EVENT_REMAP |
			     UFFD_FEATURE_EVENT_REMOVE |
			     UFFD_FEATURE_EVENT_UNMAP);
	uffd_c = uffd_open();		/* never initialised: EINVAL */
	if (uffd_c < 0)
		die(3, "userfaultfd: %s", strerror(errno));
	reg = (struct uffdio_register){
		.range = { (uintptr_t)arena, arena_len / 2 },
		.mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(uffd_a, UFFDIO_REGISTER, &reg))
		die(3, "UFFDIO_REGISTER: %s", strerror(errno));
	exe_fd = open("/proc/self/exe", O_RDONLY);
	{
		FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");

		if (f) {
			if (fscanf(f, "%ld", &min_addr) != 1)
				min_addr = 4096;
			fclose(f);
		}
	}
}

int main(int argc, char **argv)
{
	pthread_t th[32], hth, wth;
	uint64_t t0, limit;
	int pass = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv);
	if (!(uffd_features() & UFFD_FEATURE_MOVE)) {
		printf("ok - uffd-fuzz # SKIP no UFFD_FEATURE_MOVE\n");
		return 4;
	}
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	setup();
	printf("# uffd-fuzz: seed %llu, %d threads, arena of %ld pages at "
	       "%p, budget %ld calls, %.0f s\n", (unsigned long long)opt.seed,
	       opt.threads, opt.arena_pages, arena, opt.calls, opt.seconds);
	fz = calloc(opt.threads, sizeof(*fz));
	if (!fz)
		die(3, "out of memory");
	for (int i = 0; i < opt.threads; i++)
		fz[i].id = i;
	if (pthread_create(&hth, NULL, handler_main, NULL) ||
	    pthread_create(&wth, NULL, watchdog_main, NULL))
		die(3, "pthread_create failed");
	for (int i = 0; i < opt.threads; i++) {
		fz[i].id = i;
		fz[i].rng = splitmix(opt.seed * 7919 + i);
		if (pipe2(fz[i].pipe, O_NONBLOCK))
			die(3, "pipe: %s", strerror(errno));
		if (pthread_create(&th[i], NULL, fuzz_main, &fz[i]))
			die(3, "pthread_create failed");
	}
	t0 = now_ns();
	limit = opt.seconds ? (uint64_t)(opt.seconds * 1e9) : UINT64_MAX;
	while (!stop) {
		usleep(100000);
		if (now_ns() - t0 >= limit || (opt.calls && n_calls >= opt.calls))
			stop = 1;
		if (opt.verbose && (now_ns() - t0) / 100000000 % 50 == 0 &&
		    !stop)
			printf("# %.0f s: %ld calls\n", (now_ns() - t0) / 1e9,
			       n_calls);
	}
	for (int i = 0; i < opt.threads; i++)
		pthread_join(th[i], NULL);
	munmap(arena, arena_len);	/* wakes any fault still waiting */
	stop = 2;
	pthread_join(hth, NULL);
	pthread_join(wth, NULL);

	printf("# ran %.1f s: %ld fuzzed calls, %ld UFFDIO_MOVE (%ld moved "
	       "everything), %ld forks, %ld faults served, %ld events\n",
	       (now_ns() - t0) / 1e9, n_calls, n_moves, n_move_ok, n_forks,
	       n_faults, n_events);
	printf("# ops (count, mean us):");
	for (int k = 0; k < NOPS; k++)
		printf(" %s %ld %.0f", ops[k].name, op_count[k],
		       op_count[k] ? op_ns[k] / 1e3 / op_count[k] : 0.0);
	printf("\n# UFFDIO_MOVE errnos:");
	for (int e = 1; e < 160; e++)
		if (errno_seen[e])
			printf(" %s %ld", strerror(e), errno_seen[e]);
	printf("\n");
#define CHECK(ok, ...) do { printf("%s - ", (ok) ? "ok" : "not ok"); \
	printf(__VA_ARGS__); printf("\n"); if (ok) pass++; else failed++; \
	} while (0)
	if (opt.calls)
		CHECK(n_calls >= opt.calls, "%ld fuzzed calls (goal %ld)",
		      n_calls, opt.calls);
	CHECK(n_fail == n_child_fail, "every UFFDIO_MOVE result in the "
	      "contract's table (%ld calls, %ld not)", n_moves,
	      n_fail - n_child_fail);
	CHECK(!n_child_fail, "%ld fork children exited cleanly", n_forks);
	printf("%d passed, %d failed\n", pass, failed);
	return failed ? 1 : 0;
}
