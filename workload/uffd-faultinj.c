// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-faultinj - UFFDIO_MOVE under injected allocation failures.
 *
 * With the kernel's fault injection (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_DEBUG_FS) set to fail only tasks that ask for it
 * (task-filter, /proc/thread-self/make-it-fail), each call of UFFDIO_MOVE
 * runs with slab and page allocations failing at some probability, in the
 * places where the move path allocates:
 *   pgtable   destination page tables that do not exist yet (a fresh 1 GiB
 *             region) and a destination VMA never faulted (anon_vma)
 *   anon_vma  a destination VMA never faulted, its page table present
 *   thp_part  part of a PMD-mapped THP (split), to a fresh region
 *   thp_whole a whole THP to a fresh region (PMD move, dst pmd allocation)
 * Each call must succeed, or fail with ENOMEM (move = -ENOMEM) or EAGAIN
 * (move = bytes done or -EAGAIN); every page must then be either moved or
 * where it was, with its contents, and the rest must move once injection
 * is off.  The kernel log must stay clean (the workbench checks it).
 *
 * Last line "N passed, N failed"; exit status 0, 1 a check failed, 2 usage,
 * 3 system error, 4 skipped (no fault injection or no UFFD_FEATURE_MOVE).
 */
#define _GNU_SOURCE
#include <getopt.h>

static const char *prog = "uffd-faultinj";

#include "uffd-util.h"

#define DBG "/sys/kernel/debug/"
#define TIMES 1000000

static struct {
	uint64_t seed;
	int rounds;
	int verbose;
	int dry;
} opt = { .seed = 1, .rounds = 25 };

static long ps, pmd_size;
static int uffd, failfd, pagemap_fd;
static uint64_t rng;
static int tally_pass, tally_fail;
static long tally_injected;

static void usage(void)
{
	printf(
"usage: uffd-faultinj [options]\n"
"UFFDIO_MOVE with slab and page allocations failing (failslab,\n"
"fail_page_alloc, this task only): page tables and anon_vma of the\n"
"destination, THP split, PMD move. Needs root, debugfs and a kernel with\n"
"CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS.\n"
"Last line: \"N passed, N failed\".\n\n"
"  --seed N      seed of the random choices (default 1)\n"
"  --rounds N    calls per case and failure probability (default 25)\n"
"  --dry-run     no injection: the same calls and checks on any kernel\n"
"  -v, --verbose one line per call\n"
"  -h, --help    this text\n");
}

/* ------------------------------------------------------------------ */
/* fault injection control                                             */

static int put(const char *path, const char *val)
{
	int fd, ok;

	if (opt.dry)
		return 0;
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static long get(const char *path)
{
	char buf[64] = "";
	int fd;
	long v;

	if (opt.dry)
		return TIMES;
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		die(3, "%s: %s", path, strerror(errno));
	close(fd);
	v = strtol(buf, NULL, 10);
	return v;
}

static const char *const attrs[] = { "failslab", "fail_page_alloc" };

/* Both facilities: fail this task's allocations with probability pct. */
static int setup_injection(int pct)
{
	char path[128], prob[16], times[16];

	snprintf(prob, sizeof(prob), "%d", pct);
	snprintf(times, sizeof(times), "%d", TIMES);
	for (int i = 0; i < 2; i++) {
		const char *kv[][2] = {
			{ "task-filter", "Y" }, { "verbose", "0" },
			{ "interval", "1" }, { "space", "0" },
			{ "ignore-gfp-wait", "N" }, { "times", times },
			{ "probability", prob },
		};

		for (unsigned k = 0; k < sizeof(kv) / sizeof(kv[0]); k++) {
			snprintf(path, sizeof(path), DBG "%s/%s", attrs[i],
				 kv[k][0]);
			if (put(path, kv[k][1]))
				return -1;
		}
	}
	if (put(DBG "fail_page_alloc/ignore-gfp-highmem", "N") ||
	    put(DBG "fail_page_alloc/min-order", "0"))
		return -1;
	return 0;
}

/* failures injected so far (each facility counts down from TIMES) */
static long injected(void)
{
	return 2L * TIMES - get(DBG "failslab/times") -
	       get(DBG "fail_page_alloc/times");
}

static void make_it_fail(int on)
{
	if (opt.dry)
		return;
	if (pwrite(failfd, on ? "1" : "0", 1, 0) != 1)
		die(3, "make-it-fail: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* pages                                                               */

static uint64_t tag(long round, long i)
{
	return 0x46494e4a00000000ull ^ ((uint64_t)round << 16) ^ (uint64_t)i;
}

static void fill(char *p, long n, long round)
{
	for (long i = 0; i < n; i++)
		for (long w = 0; w < ps / 8; w++)
			((uint64_t *)(p + i * ps))[w] = tag(round, i) + w;
}

static int mapped(const char *p)
{
	uint64_t e = 0;

	if (pread(pagemap_fd, &e, 8, (uintptr_t)p / ps * 8) != 8)
		die(3, "pagemap: %s", strerror(errno));
	return (e >> 62) != 0;
}

static int page_ok(const char *p, long round, long i)
{
	for (long w = 0; w < ps / 8; w++)
		if (((const uint64_t *)p)[w] != tag(round, i) + w)
			return 0;
	return 1;
}

/* Pages [0, moved) at dst, the others at src, each with its contents and
 * the other place empty. Reports and counts what is wrong. */
static long verify(const char *what, char *src, char *dst, long n,
		   long moved, long round)
{
	long bad = 0;

	for (long i = 0; i < n; i++) {
		char *here = i < moved ? dst : src, *there = i < moved ? src : dst;

		here += i * ps;
		there += i * ps;
		if (!mapped(here) || !page_ok(here, round, i) || mapped(there)) {
			if (bad++ < 3)
				printf("# FAIL: %s round %ld: page %ld should "
				       "be at %p (%s, %s) and not at %p (%s)\n",
				       what, round, i, here, mapped(here) ?
				       "mapped" : "missing", mapped(here) &&
				       page_ok(here, round, i) ? "intact" :
				       "wrong contents", there, mapped(there) ?
				       "mapped" : "empty");
		}
	}
	return bad;
}

/* ------------------------------------------------------------------ */
/* cases                                                               */

struct setup {
	char *src, *dst;	/* the ranges moved */
	long n;			/* pages */
	char *unmap[3];		/* what to unmap afterwards */
	long unmap_len[3];
};

static char *fresh(long len, long align, int thp)
{
	char *p = map_aligned(len, align, PROT_READ | PROT_WRITE, 0);

	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

static void registered(char *p, long len)
{
	uffd_register(uffd, p, len);
}

/* a region of its own at every page-table level (1 GiB on 64-bit) */
#define FRESH_ALIGN (sizeof(long) == 8 ? 1L << 30 : pmd_size)

/* src: n small pages; dst: a never-faulted VMA alone in a fresh region */
static void setup_pgtable(struct setup *s, long round)
{
	s->n = 1 + rnd(&rng) % 16;
	s->src = fresh(s->n * ps, ps, 0);
	fill(s->src, s->n, round);
	s->dst = fresh(s->n * ps, FRESH_ALIGN, 0);
	registered(s->dst, s->n * ps);
	s->unmap[0] = s->src, s->unmap_len[0] = s->n * ps;
	s->unmap[1] = s->dst, s->unmap_len[1] = s->n * ps;
}

/* dst: a never-faulted VMA right after a faulted one of other flags, so
 * its page table exists and only its anon_vma is missing */
static void setup_anon_vma(struct setup *s, long round)
{
	char *base = map_aligned(2 * pmd_size, pmd_size,
				 PROT_READ | PROT_WRITE | PROT_EXEC, 0);

	s->n = 1 + rnd(&rng) % 16;
	base[0] = 1;				/* page table, anon_vma */
	s->dst = base + 16 * ps;
	if (mmap(s->dst, s->n * ps, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		die(3, "mmap: %s", strerror(errno));
	registered(s->dst, s->n * ps);
	s->src = fresh(s->n * ps, ps, 0);
	fill(s->src, s->n, round);
	s->unmap[0] = base, s->unmap_len[0] = 2 * pmd_size;
	s->unmap[1] = s->src, s->unmap_len[1] = s->n * ps;
}

/* src: a THP; part of it (split) or all of it (PMD move) to a fresh
 * 1 GiB region */
static void setup_thp(struct setup *s, long round, int whole)
{
	long off = whole ? 0 : rnd(&rng) % (pmd_size / ps - 16);
	char *thp = fresh(pmd_size, pmd_size, 1);

	fill(thp, pmd_size / ps, round);
	s->n = whole ? pmd_size / ps : 1 + (long)(rnd(&rng) % 16);
	s->src = thp + off * ps;
	s->dst = fresh(pmd_size, FRESH_ALIGN, 1);
	registered(s->dst, pmd_size);
	s->unmap[0] = thp, s->unmap_len[0] = pmd_size;
	s->unmap[1] = s->dst, s->unmap_len[1] = pmd_size;
	/* verify() numbers pages from src: shift the tags to match */
	if (off)
		fill(s->src, s->n, round);
}

struct result {
	long calls, ok, enomem, eagain, bad, injected;
};

/* One call with injection on; check errno and move; verify; finish the
 * move with injection off and verify again. */
static void one_call(const char *what, struct setup *s, long round,
		     struct result *res)
{
	struct uffdio_move mv = {
		.dst = (uintptr_t)s->dst, .src = (uintptr_t)s->src,
		.len = s->n * ps, .move = 0x5a5a5a5a,
	};
	long moved = 0, before = injected();
	int r, err;

	make_it_fail(1);
	r = ioctl(uffd, UFFDIO_MOVE, &mv);
	err = errno;
	make_it_fail(0);
	res->calls++;
	res->injected += injected() - before;
	if (r == 0 && mv.move == (long long)mv.len) {
		res->ok++;
		moved = s->n;
	} else if (r && err == ENOMEM && mv.move == -ENOMEM) {
		res->enomem++;
	} else if (r && err == EAGAIN && (mv.move == -EAGAIN ||
		   (mv.move >= 0 && mv.move < (long long)mv.len &&
		    mv.move % ps == 0))) {
		res->eagain++;
		moved = mv.move > 0 ? mv.move / ps : 0;
	} else {
		res->bad++;
		printf("# FAIL: %s round %ld: %ld pages %p -> %p: %s, move "
		       "%lld (want 0, ENOMEM or EAGAIN)\n", what, round, s->n,
		       s->src, s->dst, r ? strerror(err) : "success",
		       (long long)mv.move);
		return;
	}
	if (opt.verbose)
		printf("# %s round %ld: %ld pages: %s, move %lld\n", what, round,
		       s->n, r ? strerror(err) : "ok", (long long)mv.move);
	if (verify(what, s->src, s->dst, s->n, moved, round)) {
		res->bad++;
		return;
	}
	if (moved < s->n) {
		mv = (struct uffdio_move){
			.dst = (uintptr_t)s->dst + moved * ps,
			.src = (uintptr_t)s->src + moved * ps,
			.len = (s->n - moved) * ps,
		};
		if (ioctl(uffd, UFFDIO_MOVE, &mv)) {
			res->bad++;
			printf("# FAIL: %s round %ld: the rest did not move "
			       "without injection: %s\n", what, round,
			       strerror(errno));
			return;
		}
		if (verify(what, s->src, s->dst, s->n, s->n, round))
			res->bad++;
	}
}

static void run_case(const char *what, int pct)
{
	struct result res = { 0 };
	char name[64];

	if (setup_injection(pct))
		die(3, "cannot set up fault injection: %s", strerror(errno));
	for (long round = 0; round < opt.rounds; round++) {
		struct setup s = { 0 };

		if (!strcmp(what, "pgtable"))
			setup_pgtable(&s, round);
		else if (!strcmp(what, "anon_vma"))
			setup_anon_vma(&s, round);
		else
			setup_thp(&s, round, !strcmp(what, "thp_whole"));
		one_call(what, &s, round, &res);
		for (int i = 0; i < 3; i++)
			if (s.unmap[i])
				munmap(s.unmap[i], s.unmap_len[i]);
	}
	snprintf(name, sizeof(name), "%s at %d%%", what, pct);
	printf("%s - faultinj %s: %ld calls: %ld moved, %ld ENOMEM, %ld "
	       "EAGAIN, %ld wrong; %ld failures injected\n",
	       res.bad ? "not ok" : "ok", name, res.calls, res.ok, res.enomem,
	       res.eagain, res.bad, res.injected);
	if (res.bad)
		tally_fail++;
	else
		tally_pass++;
	tally_injected += res.injected;
}

/* ------------------------------------------------------------------ */

static void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", 1, 0, 's' }, { "rounds", 1, 0, 'r' },
		{ "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' },
		{ "dry-run", 0, 0, 'd' }, { 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'd': opt.dry = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(); exit(0);
		default: try_help();
		}
	}
	if (optind < argc || opt.rounds < 1)
		usage_error("bad arguments");
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"pgtable", "anon_vma", "thp_part", "thp_whole",
	};
	static const int pcts[] = { 100, 50, 10 };
	long thp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv);
	rng = splitmix(opt.seed);
	ps = sysconf(_SC_PAGESIZE);
	if (!(uffd_features() & UFFD_FEATURE_MOVE)) {
		printf("ok - uffd-faultinj # SKIP no UFFD_FEATURE_MOVE\n");
		return 4;
	}
	failfd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (!opt.dry && (failfd < 0 || access(DBG "failslab/times", W_OK) ||
	    access(DBG "fail_page_alloc/times", W_OK))) {
		printf("ok - uffd-faultinj # SKIP no fault injection (needs "
		       "FAILSLAB, FAIL_PAGE_ALLOC, debugfs and root)\n");
		return 4;
	}
	thp = 0;
	{
		FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/"
				"hpage_pmd_size", "r");

		if (f) {
			if (fscanf(f, "%ld", &thp) != 1)
				thp = 0;
			fclose(f);
		}
	}
	pmd_size = thp > ps ? thp : ps * (ps / 8);
	uffd = uffd_create(UFFD_FEATURE_MOVE);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		die(3, "pagemap: %s", strerror(errno));
	printf("# uffd-faultinj: seed %llu, %d rounds per case and "
	       "probability\n", (unsigned long long)opt.seed, opt.rounds);
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		if (thp <= ps && !strncmp(cases[c], "thp", 3))
			continue;
		for (unsigned p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++)
			run_case(cases[c], pcts[p]);
	}
	setup_injection(0);
	printf("%s - fault injection fired (%ld failures injected)%s\n",
	       tally_injected || opt.dry ? "ok" : "not ok", tally_injected,
	       opt.dry ? " # SKIP dry run" : "");
	if (tally_injected || opt.dry)
		tally_pass++;
	else
		tally_fail++;
	printf("%d passed, %d failed\n", tally_pass, tally_fail);
	return tally_fail ? 1 : 0;
}
