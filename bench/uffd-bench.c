// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-bench - per-page cost of UFFDIO_MOVE vs UFFDIO_COPY vs mremap.
 *
 * Every case maps a fresh source and destination for each repetition, sets
 * them up outside the timed region, times only the operation with
 * CLOCK_MONOTONIC, checks the result (a per-page tag at the destination),
 * and unmaps. One untimed warm-up repetition precedes the timed ones.
 * Output: one "case=NAME key=value..." line per case with the median,
 * minimum, maximum and quartiles of ns per 4 KiB page over the repetitions.
 * See bench/README.md for what each case measures.
 *
 * Exit status: 0 ok (skipped cases included), 1 a result was wrong (data
 * lost or misplaced), 2 bad usage, 3 system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *prog = "uffd-bench";

#include "../workload/uffd-util.h"

#define HPAGE (2ul << 20)
#define MAX_REPS 101

static size_t pg;
static int uffd = -1;
static int have_move;
static char thp_mode[32] = "unavailable";
static int thp_ok;
static uint64_t seed = 1;
static int errors;
static uint64_t clock_res_ns;	/* measured resolution of CLOCK_MONOTONIC */
static uint64_t min_rep_ns;	/* timed ns to accumulate per repetition */
static int cpu_mover = -1, cpu_sibling = -1; /* the _mt cases' CPUs; -1: one CPU */
static cpu_set_t cpus_allowed;	/* this thread's affinity at start-up */
#define MAX_ROUNDS 64		/* and at most ~1 s of wall time per repetition */

static uint64_t tag(uint64_t i)
{
	return 0x7a67000000000000ull ^ (i * 0x9e3779b97f4a7c15ull);
}

/* ------------------------------------------------------------------ */
/* memory helpers                                                      */

static char *map_area(size_t len, int huge)
{
	char *p = map_aligned(len, huge ? HPAGE : pg, PROT_READ | PROT_WRITE,
			      MAP_NORESERVE);

	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/* Fill: write the page tag in the first word of every page (faults it in). */
static void populate(char *p, size_t npages, int huge)
{
	if (huge)
		for (size_t i = 0; i < npages; i += HPAGE / pg)
			p[i * pg + 8] = 1;	/* one fault per huge page */
	for (size_t i = 0; i < npages; i++)
		*(uint64_t *)(p + i * pg) = tag(i);
}

static void check_dst(const char *cname, char *p, size_t npages)
{
	for (size_t i = 0; i < npages; i++) {
		uint64_t v = *(volatile uint64_t *)(p + i * pg);

		if (v != tag(i)) {
			fprintf(stderr, "%s: ERROR case %s: page %zu holds %#" PRIx64
				", want %#" PRIx64 "\n", prog, cname, i, v, tag(i));
			errors++;
			return;
		}
	}
}

/* After a move every source page must be gone (contract: "src + i is
 * empty"). mincore() looks at the page tables without faulting. */
static void check_src_empty(const char *cname, char *p, size_t npages)
{
	unsigned char *vec = malloc(npages);

	if (!vec || mincore(p, npages * pg, vec)) {
		free(vec);
		return;
	}
	for (size_t i = 0; i < npages; i++)
		if (vec[i] & 1) {
			fprintf(stderr, "%s: ERROR case %s: source page %zu still mapped "
				"after the move\n", prog, cname, i);
			errors++;
			break;
		}
	free(vec);
}

/* ------------------------------------------------------------------ */
/* operations                                                          */

static void do_move(char *dst, char *src, size_t len)
{
	size_t done = 0;
	long stuck = 0;

	while (done < len) {
		struct uffdio_move m = {
			.dst = (uintptr_t)dst + done, .src = (uintptr_t)src + done,
			.len = len - done, .mode = 0,
		};

		if (ioctl(uffd, UFFDIO_MOVE, &m) == 0)
			return;
		if (errno == EAGAIN) {
			if (m.move > 0)
				done += (size_t)m.move;
			else if (++stuck > 1000000)
				die(3, "UFFDIO_MOVE: EAGAIN without progress, 1000000 times");
			continue;
		}
		die(3, "UFFDIO_MOVE dst=%p src=%p len=%zu: %s", dst + done,
		    src + done, len - done, strerror(errno));
	}
}

static void do_copy(char *dst, char *src, size_t len)
{
	size_t done = 0;
	long stuck = 0;

	while (done < len) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)dst + done, .src = (uintptr_t)src + done,
			.len = len - done, .mode = 0,
		};

		if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
			return;
		if (errno == EAGAIN) {
			if (c.copy > 0)
				done += (size_t)c.copy;
			else if (++stuck > 1000000)
				die(3, "UFFDIO_COPY: EAGAIN without progress, 1000000 times");
			continue;
		}
		die(3, "UFFDIO_COPY dst=%p len=%zu: %s", dst + done, len - done,
		    strerror(errno));
	}
}

static void do_mremap(char *dst, char *src, size_t len)
{
	if (mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED)
		die(3, "mremap: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* the sibling thread of the _mt cases                                 */

/* A second thread of this process, pinned to cpu_sibling, reading its own
 * private memory in a loop. While it runs, the mm is live on both CPUs, so
 * every TLB flush the mover's ioctl does for this mm must interrupt it (an
 * idle or lazy CPU would be skipped): the shootdown cost a collector pays
 * while mutator threads run. */
#define SIB_PAGES 16

struct sibling {
	pthread_t th;
	int running, stop;	/* atomics: set by the sibling, by the mover */
	uint64_t passes;	/* atomic: passes over its memory so far */
	uint64_t sum;
};

static char *sib_mem;		/* SIB_PAGES pages, not the pages being moved */

static void *sibling_main(void *arg)
{
	struct sibling *sb = arg;
	uint64_t sum = 0;

	__atomic_store_n(&sb->running, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sb->stop, __ATOMIC_ACQUIRE)) {
		for (size_t i = 0; i < SIB_PAGES * pg; i += 64)
			sum += *(volatile uint64_t *)(sib_mem + i);
		__atomic_add_fetch(&sb->passes, 1, __ATOMIC_RELAXED);
	}
	sb->sum = sum;
	return NULL;
}

/* Start the sibling on cpu_sibling and return once it is running. */
static void sibling_start(struct sibling *sb)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int err;

	if (!sib_mem) {
		sib_mem = map_area(SIB_PAGES * pg, 0);
		memset(sib_mem, 1, SIB_PAGES * pg);
	}
	memset(sb, 0, sizeof(*sb));
	CPU_ZERO(&set);
	CPU_SET(cpu_sibling, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	err = pthread_create(&sb->th, &attr, sibling_main, sb);
	pthread_attr_destroy(&attr);
	if (err)
		die(3, "pthread_create (sibling on CPU %d): %s", cpu_sibling,
		    strerror(err));
	while (!__atomic_load_n(&sb->running, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void sibling_stop(struct sibling *sb)
{
	__atomic_store_n(&sb->stop, 1, __ATOMIC_RELEASE);
	pthread_join(sb->th, NULL);
}

/* Pin this thread to cpu (-1: back to its start-up affinity). */
static void pin_self(int cpu)
{
	cpu_set_t set = cpus_allowed;
	int err;

	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
	}
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		die(3, "sched_setaffinity (CPU %d): %s", cpu, strerror(err));
}

/* The first two CPUs this thread may run on; none if only one. */
static void pick_cpus(int assume_one_cpu)
{
	if (sched_getaffinity(0, sizeof(cpus_allowed), &cpus_allowed) ||
	    assume_one_cpu)
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &cpus_allowed))
			continue;
		if (cpu_mover < 0) {
			cpu_mover = cpu;
		} else {
			cpu_sibling = cpu;
			return;
		}
	}
	cpu_mover = -1;
}

/* ------------------------------------------------------------------ */
/* cases                                                               */

enum kind { K_MOVE, K_MOVE_ALLOC, K_COPY, K_COPY_DONTNEED, K_MEMCPY, K_MREMAP };

struct bcase {
	const char *name;
	enum kind kind;
	int scatter;	/* one call per page, random order */
	int thp;	/* 2 MiB THP source */
	int per4k;	/* THP source moved with one call per 4 KiB page */
	int mt;		/* a sibling thread runs on the other CPU meanwhile */
	const char *what;
	int contend;	/* one-page moves against an mmap/munmap writer */
};

static const struct bcase cases[] = {
	{ "move_contig", K_MOVE, 0, 0, 0, 0, "UFFDIO_MOVE, one call for the run, resident source", 0 },
	{ "move_alloc_contig", K_MOVE_ALLOC, 0, 0, 0, 0, "write-fault the source page, then UFFDIO_MOVE", 0 },
	{ "copy_contig", K_COPY, 0, 0, 0, 0, "UFFDIO_COPY, one call for the run (kernel allocates)", 0 },
	{ "copy_dontneed_contig", K_COPY_DONTNEED, 0, 0, 0, 0, "UFFDIO_COPY + MADV_DONTNEED of the source", 0 },
	{ "memcpy_prepop", K_MEMCPY, 0, 0, 0, 0, "memcpy into already-populated pages (no allocation)", 0 },
	{ "mremap_contig", K_MREMAP, 0, 0, 0, 0, "mremap of the whole run", 0 },
	{ "move_contig_mt", K_MOVE, 0, 0, 0, 1, "move_contig while a sibling thread runs on another CPU", 0 },
	{ "copy_contig_mt", K_COPY, 0, 0, 0, 1, "copy_contig while a sibling thread runs on another CPU", 0 },
	{ "move_scatter", K_MOVE, 1, 0, 0, 0, "UFFDIO_MOVE, one call per page, random order", 0 },
	{ "copy_scatter", K_COPY, 1, 0, 0, 0, "UFFDIO_COPY, one call per page, random order", 0 },
	{ "memcpy_scatter", K_MEMCPY, 1, 0, 0, 0, "memcpy per page into populated pages, random order", 0 },
	{ "mremap_scatter", K_MREMAP, 1, 0, 0, 0, "mremap, one call per page, random order", 0 },
	{ "thp_move_pmd", K_MOVE, 0, 1, 0, 0, "UFFDIO_MOVE of whole 2 MiB THPs (PMD move)", 0 },
	{ "thp_move_4k", K_MOVE, 0, 1, 1, 0, "UFFDIO_MOVE of THPs in 512 calls of 4 KiB each (split)", 0 },
	{ "thp_copy", K_COPY, 0, 1, 0, 0, "UFFDIO_COPY of THP-backed 2 MiB ranges", 0 },
	{ "thp_mremap", K_MREMAP, 0, 1, 0, 0, "mremap of whole 2 MiB THPs", 0 },
	{ "move_contend_mt", K_MOVE, 1, 0, 0, 1, "one-page UFFDIO_MOVEs while a 2nd thread mmaps+munmaps a small region", 1 },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct rep_info {
	long src_huge_kb, dst_huge_kb;
	uint64_t sib_passes;	/* the sibling's passes within the timed part */
	long long tlb_ipis;	/* TLB shootdowns within it, -1: unknown */
};

/*
 * TLB shootdown interrupts received so far by all CPUs: the "TLB:" row of
 * /proc/interrupts (x86).  -1 where there is no such row.
 */
static long long tlb_shootdowns(void)
{
	char line[4096];
	long long sum = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (sum < 0 && fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, "TLB:", 4))
			continue;
		for (p += 4, sum = 0;; p = end) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
		}
	}
	fclose(f);
	return sum;
}

/* One repetition: returns elapsed ns for the timed part. */
static uint64_t run_rep(const struct bcase *c, size_t npages, const size_t *perm,
			struct rep_info *ri)
{
	size_t len = npages * pg;
	int huge = c->thp;
	char *src, *dst;
	struct sibling sb;
	uint64_t t0, t1, p0 = 0;
	long long i0 = -1, i1;

	src = map_area(len, huge);
	if (c->kind == K_MREMAP) {
		/* a reserved range for MREMAP_FIXED to land in */
		dst = map_aligned(len, huge ? HPAGE : pg, PROT_NONE, MAP_NORESERVE);
	} else {
		dst = map_area(len, huge);
	}
	if (c->kind == K_MOVE_ALLOC) {
		/* source mapped but empty: the timed part faults it in */
	} else {
		populate(src, npages, huge);
	}
	if (c->kind == K_MEMCPY)
		populate(dst, npages, huge);	/* resident destination */
	if (c->kind != K_MREMAP && c->kind != K_MEMCPY)
		uffd_register(uffd, dst, len);
	ri->src_huge_kb = huge ? smaps_huge_kb(src) : 0;
	if (c->mt) {
		sibling_start(&sb);
		i0 = tlb_shootdowns();
		p0 = __atomic_load_n(&sb.passes, __ATOMIC_RELAXED);
	}

	t0 = now_ns();
	switch (c->kind) {
	case K_MOVE:
		if (c->scatter) {
			for (size_t k = 0; k < npages; k++)
				do_move(dst + perm[k] * pg, src + perm[k] * pg, pg);
		} else if (c->per4k) {
			for (size_t i = 0; i < npages; i++)
				do_move(dst + i * pg, src + i * pg, pg);
		} else {
			do_move(dst, src, len);
		}
		break;
	case K_MOVE_ALLOC:
		for (size_t i = 0; i < npages; i++)
			*(uint64_t *)(src + i * pg) = tag(i);
		do_move(dst, src, len);
		break;
	case K_COPY:
		if (c->scatter)
			for (size_t k = 0; k < npages; k++)
				do_copy(dst + perm[k] * pg, src + perm[k] * pg, pg);
		else
			do_copy(dst, src, len);
		break;
	case K_COPY_DONTNEED:
		do_copy(dst, src, len);
		madvise(src, len, MADV_DONTNEED);
		break;
	case K_MEMCPY:
		if (c->scatter)
			for (size_t k = 0; k < npages; k++)
				memcpy(dst + perm[k] * pg, src + perm[k] * pg, pg);
		else
			memcpy(dst, src, len);
		break;
	case K_MREMAP:
		if (c->scatter)
			for (size_t k = 0; k < npages; k++)
				do_mremap(dst + perm[k] * pg, src + perm[k] * pg, pg);
		else
			do_mremap(dst, src, len);
		break;
	}
	t1 = now_ns();
	if (c->mt) {
		ri->sib_passes = __atomic_load_n(&sb.passes, __ATOMIC_RELAXED) - p0;
		i1 = tlb_shootdowns();
		ri->tlb_ipis = i0 >= 0 && i1 >= i0 ? i1 - i0 : -1;
		sibling_stop(&sb);
	}

	ri->dst_huge_kb = huge ? smaps_huge_kb(dst) : 0;
	check_dst(c->name, dst, npages);
	if (c->kind == K_MOVE || c->kind == K_MOVE_ALLOC)
		check_src_empty(c->name, src, npages);
	munmap(dst, len);
	munmap(src, len);	/* after mremap: a hole, harmless */
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;
	double f = pos - i;

	return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[n - 1];
}

/* ------------------------------------------------------------------ */
/* move_contend_mt: one-page moves against an mmap/munmap writer        */

/*
 * The mover (pinned to cpu_mover) moves one page per call; a writer thread
 * of the same process (pinned to cpu_sibling) maps and unmaps a small
 * unrelated region in a loop. Both take the mm's locks: on 6.1 the move holds
 * mmap_lock for read for the whole call and mmap/munmap take it for write,
 * so each waits for the other; upstream (6.9+) moves under per-VMA locks.
 * Each repetition has three timed phases of the same pages: the mover alone
 * (first half of the pages), both together (second half), the writer alone
 * (as long as the together phase took). Every call is timed on its own.
 */
#define WR_PAGES 4		/* the writer's region: 16 KiB */

struct lat {			/* a growable array of ns samples */
	double *v;
	size_t n, cap;
};

static void lat_push(struct lat *l, double ns)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die(3, "out of memory");
	}
	l->v[l->n++] = ns;
}

struct writer {
	pthread_t th;
	char *hole;		/* WR_PAGES between two PROT_NONE guards */
	int running, stop;	/* atomics */
	uint64_t until;		/* 0: until stop; else stop at this now_ns() */
	struct lat t0, dt;	/* start time and duration of every pair */
	long sleeps;		/* voluntary context switches of this run */
};

/* This thread's voluntary context switches so far: a thread that blocks on
 * a lock (mmap_lock's rwsem) sleeps, one whose vCPU the host preempts does
 * not, so this counts lock waits whatever the host's load. */
static long vcsw_self(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nvcsw;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t len = WR_PAGES * pg;
	long v0 = vcsw_self();

	__atomic_store_n(&w->running, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t a = now_ns(), b;
		void *p = mmap(w->hole, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);

		if (p == MAP_FAILED)
			die(3, "writer: mmap: %s", strerror(errno));
		if (p != w->hole)
			die(3, "writer: mmap landed at %p, not %p", p, w->hole);
		if (munmap(p, len))
			die(3, "writer: munmap: %s", strerror(errno));
		b = now_ns();
		lat_push(&w->t0, (double)a);
		lat_push(&w->dt, (double)(b - a));
		if (w->until && b >= w->until)
			break;
	}
	w->sleeps = vcsw_self() - v0;
	return NULL;
}

static void writer_start(struct writer *w, uint64_t until)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int err;

	w->running = w->stop = 0;
	w->until = until;
	w->t0.n = w->dt.n = 0;
	CPU_ZERO(&set);
	CPU_SET(cpu_sibling, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	err = pthread_create(&w->th, &attr, writer_main, w);
	pthread_attr_destroy(&attr);
	if (err)
		die(3, "pthread_create (writer on CPU %d): %s", cpu_sibling,
		    strerror(err));
	while (!__atomic_load_n(&w->running, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void writer_stop(struct writer *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->th, NULL);
}

/* Keep the writer's pairs that lie inside [from, to]. */
static size_t writer_collect(struct writer *w, uint64_t from, uint64_t to,
			     struct lat *out)
{
	size_t k = 0;

	for (size_t i = 0; i < w->t0.n; i++)
		if (w->t0.v[i] >= (double)from &&
		    w->t0.v[i] + w->dt.v[i] <= (double)to) {
			lat_push(out, w->dt.v[i]);
			k++;
		}
	return k;
}

/* Time one-page moves of pages [lo, hi) of src to dst. */
static void move_pages_timed(char *dst, char *src, size_t lo, size_t hi,
			     struct lat *out)
{
	for (size_t i = lo; i < hi; i++) {
		uint64_t a = now_ns();

		do_move(dst + i * pg, src + i * pg, pg);
		lat_push(out, (double)(now_ns() - a));
	}
}

static double lat_q(struct lat *l, double q)
{
	if (!l->n)
		return 0;
	qsort(l->v, l->n, sizeof(double), cmp_double);
	return quantile(l->v, (int)(l->n > INT32_MAX ? INT32_MAX : l->n), q);
}

/* One repetition; appends to the four sample sets; returns the median of
 * this repetition's contended moves. */
static long sl_m_alone, sl_m_both, sl_w_alone, sl_w_both; /* sleeps */

static double contend_rep(size_t npages, struct writer *w, struct lat *m_alone,
			  struct lat *m_both, struct lat *w_alone, struct lat *w_both,
			  uint64_t *pairs_both)
{
	long v;
	size_t len = npages * pg, half = npages / 2;
	char *src = map_area(len, 0), *dst = map_area(len, 0);
	struct lat rep = { 0 };
	uint64_t t0, t1, t2;
	double med;

	populate(src, npages, 0);
	uffd_register(uffd, dst, len);

	/* the mover alone */
	v = vcsw_self();
	move_pages_timed(dst, src, 0, half, m_alone);
	sl_m_alone += vcsw_self() - v;
	/* both */
	writer_start(w, 0);
	t0 = now_ns();
	v = vcsw_self();
	move_pages_timed(dst, src, half, npages, &rep);
	sl_m_both += vcsw_self() - v;
	t1 = now_ns();
	writer_stop(w);
	sl_w_both += w->sleeps;
	*pairs_both += writer_collect(w, t0, t1, w_both);
	for (size_t i = 0; i < rep.n; i++)
		lat_push(m_both, rep.v[i]);
	/* the writer alone, as long as the together phase took */
	t2 = now_ns();
	writer_start(w, t2 + (t1 - t0));
	pthread_join(w->th, NULL);
	sl_w_alone += w->sleeps;
	writer_collect(w, t2, UINT64_MAX, w_alone);

	check_dst("move_contend_mt", dst, npages);
	check_src_empty("move_contend_mt", src, npages);
	munmap(dst, len);
	munmap(src, len);
	med = lat_q(&rep, 0.5);
	free(rep.v);
	return med;
}

static void run_contend_case(const struct bcase *c, size_t npages, int reps)
{
	struct lat m_alone = { 0 }, m_both = { 0 }, w_alone = { 0 }, w_both = { 0 };
	struct lat junk[4] = { { 0 } };
	struct writer w;
	double v[MAX_REPS];
	uint64_t pairs = 0, junk_pairs = 0;
	size_t glen = 3 * WR_PAGES * pg;
	char *guard;

	memset(&w, 0, sizeof(w));
	/* the writer's hole: PROT_NONE on both sides, so its mapping never
	 * merges with a neighbour and every pair does the same VMA work */
	guard = mmap(NULL, glen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard == MAP_FAILED)
		die(3, "mmap: %s", strerror(errno));
	w.hole = guard + WR_PAGES * pg;
	if (munmap(w.hole, WR_PAGES * pg))
		die(3, "munmap: %s", strerror(errno));
	pin_self(cpu_mover);
	contend_rep(npages, &w, &junk[0], &junk[1], &junk[2], &junk[3],
		    &junk_pairs);	/* warm-up */
	sl_m_alone = sl_m_both = sl_w_alone = sl_w_both = 0;
	for (int k = 0; k < reps; k++)
		v[k] = contend_rep(npages, &w, &m_alone, &m_both, &w_alone,
				   &w_both, &pairs);
	pin_self(-1);
	qsort(v, reps, sizeof(double), cmp_double);
	printf("case=%s pages=%zu page_bytes=%zu reps=%d rounds=%d ns_per_page_median=%.1f "
	       "min=%.1f max=%.1f q1=%.1f q3=%.1f", c->name, npages / 2, pg, reps, reps,
	       quantile(v, reps, 0.5), v[0], v[reps - 1], quantile(v, reps, 0.25),
	       quantile(v, reps, 0.75));
	printf(" move_p50_ns=%.0f move_p99_ns=%.0f move_alone_p50_ns=%.0f "
	       "move_alone_p99_ns=%.0f writer_p50_ns=%.0f writer_p99_ns=%.0f "
	       "writer_alone_p50_ns=%.0f writer_alone_p99_ns=%.0f moves=%zu "
	       "writer_pairs=%" PRIu64 " writer_alone_pairs=%zu "
	       "move_sleeps=%ld move_alone_sleeps=%ld writer_sleeps=%ld "
	       "writer_alone_sleeps=%ld mover_cpu=%d sibling_cpu=%d\n",
	       lat_q(&m_both, 0.5), lat_q(&m_both, 0.99), lat_q(&m_alone, 0.5),
	       lat_q(&m_alone, 0.99), lat_q(&w_both, 0.5), lat_q(&w_both, 0.99),
	       lat_q(&w_alone, 0.5), lat_q(&w_alone, 0.99), m_both.n, pairs,
	       w_alone.n, sl_m_both, sl_m_alone, sl_w_both, sl_w_alone,
	       cpu_mover, cpu_sibling);
	fflush(stdout);
	munmap(guard, glen);
	free(m_alone.v);
	free(m_both.v);
	free(w_alone.v);
	free(w_both.v);
	for (int i = 0; i < 4; i++)
		free(junk[i].v);
	free(w.t0.v);
	free(w.dt.v);
}

static void run_case(const struct bcase *c, size_t npages4k, size_t thp_pages,
		     int reps)
{
	size_t npages = c->thp ? thp_pages : npages4k;
	size_t *perm = calloc(npages, sizeof(*perm));
	double v[MAX_REPS];
	struct rep_info ri = { 0, 0, 0, -1 };
	long min_src_huge = -2, min_dst_huge = -2;
	uint64_t min_sib_passes = UINT64_MAX;
	long long ipis = 0;	/* TLB shootdowns in the timed parts; -1: unknown */
	int rounds = 0;
	uint64_t r = seed;

	if (!perm)
		die(3, "out of memory");
	if ((c->kind == K_MOVE || c->kind == K_MOVE_ALLOC) && !have_move) {
		printf("case=%s skipped=no_uffd_move\n", c->name);
		free(perm);
		return;
	}
	if (c->thp && !thp_ok) {
		printf("case=%s skipped=thp_%s\n", c->name, thp_mode);
		free(perm);
		return;
	}
	if (c->mt && cpu_sibling < 0) {
		printf("case=%s skipped=one_cpu\n", c->name);
		free(perm);
		return;
	}
	if (c->contend) {
		free(perm);
		run_contend_case(c, npages, reps);
		return;
	}
	if (c->mt)
		pin_self(cpu_mover);
	for (size_t i = 0; i < npages; i++)
		perm[i] = i;
	for (size_t i = npages; i > 1; i--) {
		size_t j = rnd(&r) % i, t = perm[i - 1];

		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	run_rep(c, npages, perm, &ri);	/* warm-up, not counted */
	for (int k = 0; k < reps; k++) {
		/* with a coarse clock, accumulate rounds (each one set up anew)
		 * until the timed total dwarfs the clock's step */
		uint64_t tot = 0, done = 0, w0 = now_ns();
		int n = 0;

		do {
			tot += run_rep(c, npages, perm, &ri);
			if (c->mt && ri.sib_passes < min_sib_passes)
				min_sib_passes = ri.sib_passes;
			if (c->mt && ipis >= 0)
				ipis = ri.tlb_ipis < 0 ? -1 : ipis + ri.tlb_ipis;
			done += npages;
			n++;
		} while (tot < min_rep_ns && n < MAX_ROUNDS &&
			 now_ns() - w0 < 1000000000ull);
		rounds += n;
		v[k] = (double)tot / done;
		if (c->thp) {
			if (min_src_huge == -2 || ri.src_huge_kb < min_src_huge)
				min_src_huge = ri.src_huge_kb;
			if (min_dst_huge == -2 || ri.dst_huge_kb < min_dst_huge)
				min_dst_huge = ri.dst_huge_kb;
		}
	}
	qsort(v, reps, sizeof(double), cmp_double);
	printf("case=%s pages=%zu page_bytes=%zu reps=%d rounds=%d ns_per_page_median=%.1f "
	       "min=%.1f max=%.1f q1=%.1f q3=%.1f", c->name, npages, pg, reps, rounds,
	       quantile(v, reps, 0.5), v[0], v[reps - 1], quantile(v, reps, 0.25),
	       quantile(v, reps, 0.75));
	if (c->thp) {
		/* THP actually used at the source; where it ended up */
		printf(" src_thp_kb=%ld dst_thp_kb=%ld", min_src_huge, min_dst_huge);
		if ((size_t)min_src_huge * 1024 < npages * pg)
			printf(" note=source_not_fully_thp");
		else if (c->kind == K_MOVE && !c->per4k && min_dst_huge < min_src_huge)
			printf(" note=not_moved_as_pmd");
	}
	if (c->mt) {
		/* the fewest passes the sibling made over its memory within one
		 * timed part: > 0, it was running during the measurement */
		printf(" mover_cpu=%d sibling_cpu=%d sibling_passes_min=%" PRIu64,
		       cpu_mover, cpu_sibling, min_sib_passes);
		/* how many times per page the mover interrupted the sibling */
		if (ipis >= 0)
			printf(" tlb_ipis_per_page=%.3f",
			       (double)ipis / ((double)rounds * npages));
		pin_self(-1);
	}
	printf("\n");
	fflush(stdout);
	free(perm);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [options]\n"
"Per-page cost of UFFDIO_MOVE vs UFFDIO_COPY vs mremap (ns per 4 KiB page).\n"
"\n"
"  -p, --pages N       4 KiB pages per repetition for the 4 KiB cases\n"
"                      (default 2048 = 8 MiB, 16..1048576)\n"
"  -T, --thp-mib N     MiB per repetition for the THP cases, a multiple of 2\n"
"                      (default 8)\n"
"  -r, --reps N        timed repetitions per case, 1..%d (default 7), after\n"
"                      one untimed warm-up\n"
"  -c, --cases LIST    comma-separated case names (default: all)\n"
"  -S, --seed N        order of the scattered cases (default 1)\n"
"  -M, --min-ms N      per repetition, repeat the case (fresh setup each\n"
"                      round) until N ms were timed, at most 64 rounds and\n"
"                      about 1 s (default: 0, or 25 clock steps when\n"
"                      CLOCK_MONOTONIC is coarser than 1 us)\n"
"  -l, --list          list the cases and exit\n"
"  -h, --help          this text\n"
"\n"
"Output: a '# bench=uffd-bench ...' header line, then one line per case:\n"
"  case=NAME pages=N page_bytes=4096 reps=R rounds=N ns_per_page_median=X\n"
"  min=X max=X\n"
"  q1=X q3=X [src_thp_kb=K dst_thp_kb=K]\n"
"  [mover_cpu=C sibling_cpu=C sibling_passes_min=N [tlb_ipis_per_page=X]]\n"
"or 'case=NAME skipped=REASON'. Exit status: 0 ok, 1 wrong data after an\n"
"operation, 2 bad usage, 3 system error.\n", prog, MAX_REPS);
}

static void bad_opt(const char *what, const char *arg)
{
	usage_error("bad %s '%s'", what, arg);
}

static int parse_num(const char *s, unsigned long *v)
{
	char *e;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoul(s, &e, 0);
	return errno || *e ? -1 : 0;
}

static void detect_thp(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char buf[128];

	thp_ok = 0;
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;

		if (a && b && b - a - 1 < (long)sizeof(thp_mode)) {
			memcpy(thp_mode, a + 1, b - a - 1);
			thp_mode[b - a - 1] = 0;
			thp_ok = strcmp(thp_mode, "never") != 0;
		}
	}
	fclose(f);
	if (sysconf(_SC_PAGESIZE) != 4096)
		thp_ok = 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "pages", required_argument, 0, 'p' },
		{ "thp-mib", required_argument, 0, 'T' },
		{ "reps", required_argument, 0, 'r' },
		{ "cases", required_argument, 0, 'c' },
		{ "seed", required_argument, 0, 'S' },
		{ "min-ms", required_argument, 0, 'M' },
		{ "assume-no-move", no_argument, 0, 'A' },	/* tests */
		{ "assume-no-thp", no_argument, 0, 'N' },	/* tests */
		{ "assume-one-cpu", no_argument, 0, '1' },	/* tests */
		{ "list", no_argument, 0, 'l' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	unsigned long npages = 2048, thp_mib = 8, reps = 7, v;
	long min_ms = -1;
	int no_move = 0, no_thp = 0, one_cpu = 0;
	char *sel = NULL;
	int c;
	char want[NCASES];

	memset(want, 1, sizeof(want));
	while ((c = getopt_long(argc, argv, "p:T:r:c:S:M:lh", lopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_num(optarg, &v) || v < 16 || v > 1048576)
				bad_opt("--pages (want 16..1048576)", optarg);
			npages = v;
			break;
		case 'T':
			if (parse_num(optarg, &v) || v < 2 || v > 4096 || v % 2)
				bad_opt("--thp-mib (want an even number 2..4096)", optarg);
			thp_mib = v;
			break;
		case 'r':
			if (parse_num(optarg, &v) || v < 1 || v > MAX_REPS)
				bad_opt("--reps (want 1..101)", optarg);
			reps = v;
			break;
		case 'c':
			sel = optarg;
			break;
		case 'S':
			if (parse_num(optarg, &v))
				bad_opt("--seed", optarg);
			seed = v;
			break;
		case 'M':
			if (parse_num(optarg, &v) || v > 600000)
				bad_opt("--min-ms (want 0..600000)", optarg);
			min_ms = (long)v;
			break;
		case 'A':
			no_move = 1;
			break;
		case 'N':
			no_thp = 1;
			break;
		case '1':
			one_cpu = 1;
			break;
		case 'l':
			for (size_t i = 0; i < NCASES; i++)
				printf("%-22s %s\n", cases[i].name, cases[i].what);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			try_help();
		}
	}
	if (optind < argc)
		bad_opt("argument", argv[optind]);
	if (sel) {
		char *dup = strdup(sel), *tok, *save = NULL;

		memset(want, 0, sizeof(want));
		for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t i;

			for (i = 0; i < NCASES; i++)
				if (!strcmp(tok, cases[i].name))
					break;
			if (i == NCASES)
				bad_opt("case name in --cases (see --list)", tok);
			want[i] = 1;
		}
		free(dup);
	}

	pg = (size_t)sysconf(_SC_PAGESIZE);
	have_move = !!(uffd_features() & UFFD_FEATURE_MOVE) && !no_move;
	uffd = uffd_create(have_move ? UFFD_FEATURE_MOVE : 0);
	detect_thp();
	pick_cpus(one_cpu);
	if (no_thp) {
		thp_ok = 0;
		strcpy(thp_mode, "never");
	}
	clock_res_ns = measure_clock_res();
	if (min_ms >= 0)
		min_rep_ns = (uint64_t)min_ms * 1000000ull;
	else	/* auto: exact enough clocks need no accumulation */
		min_rep_ns = clock_res_ns > 1000 ? 25 * clock_res_ns : 0;
	if (clock_res_ns > 1000)
		fprintf(stderr, "%s: warning: CLOCK_MONOTONIC only ticks every %.3f ms "
			"(no high-resolution clocksource?): accumulating >= %.0f ms "
			"per repetition\n", prog, clock_res_ns / 1e6, min_rep_ns / 1e6);

	struct utsname u;
	uname(&u);
	printf("# bench=uffd-bench kernel=%s uffd_move=%d thp=%s pages=%lu thp_mib=%lu "
	       "reps=%lu clock=CLOCK_MONOTONIC clock_res_ns=%" PRIu64 " min_rep_ms=%.0f "
	       "unit=ns_per_4k_page\n", u.release, have_move, thp_mode, npages, thp_mib,
	       reps, clock_res_ns, min_rep_ns / 1e6);
	fflush(stdout);
	for (size_t i = 0; i < NCASES; i++)
		if (want[i])
			run_case(&cases[i], npages, thp_mib * (1ul << 20) / pg, (int)reps);
	if (errors)
		fprintf(stderr, "%s: %d case(s) produced wrong data\n", prog, errors);
	return errors ? 1 : 0;
}
