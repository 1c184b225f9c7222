// SPDX-License-Identifier: GPL-2.0
/*
 * gcsim - a concurrent compacting garbage collector workload for userfaultfd,
 * modelled on the way Android's runtime (ART) compacts its heap:
 *
 *   1. a from-space heap is filled with objects of mixed sizes that reference
 *      each other; part of them are reachable (live) from a root set;
 *   2. mark: the live set is found by tracing from the roots;
 *   3. forwarding: every live object gets its address in a compacted
 *      (sliding) layout of the to-space;
 *   4. flip: the to-space is registered with userfaultfd for MISSING faults
 *      and the mutator threads start using the new addresses at once;
 *   5. concurrent compaction: a collector thread walks the to-space page by
 *      page, compacts the live objects of each page into a scratch page
 *      (fixing up their references) and installs it with UFFDIO_MOVE
 *      ("move" mode) or UFFDIO_COPY ("copy" mode).  Mutators that touch a
 *      page not installed yet fault; a fault-handler thread reads the
 *      userfaultfd and compacts/installs that page out of order.  Both may
 *      race for the same page: the loser gets EEXIST and recycles its
 *      scratch page.  EAGAIN is retried.
 *
 *   In move mode the scratch pages are recycled from-space pages: once every
 *   to-space page that reads from a from-space page is installed, that page
 *   is dead and is reused as a scratch page, so no page is allocated and none
 *   is given back (--no-recycle uses a private scratch page instead, which
 *   the kernel must allocate again on each write fault).  In copy mode the
 *   kernel allocates and copies, and the scratch page is given back with
 *   MADV_DONTNEED after every install, as ART does.
 *
 *   6. verification: every live object (header, counter, every reference,
 *      every payload byte) and the zero tail of the last page are checked
 *      against side tables; mutator updates are tracked too.  Any mismatch
 *      is printed and the exit status is 1.
 *
 * Exit status: 0 ok, 1 verification failed, 2 bad usage, 3 system error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "gcsim";

#include "uffd-util.h"

#define HDR_SIZE	24	/* struct obj without refs */
#define MAX_REFS	8
#define MAX_THREADS	64
#define LAT_CAP		(1u << 17)	/* latency samples kept per mutator */
#define EXTRA_PAGES	16	/* registered to-space pages after the heap */

/* Page states of the to-space. */
enum { PG_TODO = 0, PG_BUSY = 1, PG_DONE = 2 };

/* The object layout in both spaces. Every byte of it is checked. */
struct obj {
	uint32_t size;		/* bytes, multiple of 8, >= HDR_SIZE */
	uint32_t id;		/* allocation index */
	uint32_t nrefs;
	uint32_t check;		/* hash of (id, size, nrefs) */
	uint64_t counter;	/* updated by mutators */
	uint64_t refs[];	/* absolute addresses or 0; payload follows */
};

struct live {
	uint64_t old_off;	/* offset in from-space */
	uint64_t new_off;	/* offset in to-space */
	uint32_t size, id, nrefs, ref_base; /* ref_base: index in exp_ref */
};

struct opts {
	uint64_t heap;
	double live_ratio;
	uint32_t obj_min, obj_max;
	int threads;
	int modes;		/* bit 0 copy, bit 1 move */
	uint64_t seed;
	int kv;
	int recycle;
	int reps;
	int quiet;
	int corrupt;		/* hidden self test */
	int no_move;		/* hidden: act as if UFFD_FEATURE_MOVE were missing */
	int sigbus;		/* faulting mutators compact the page themselves */
	int copy_reuse;		/* copy mode: keep the scratch page (no DONTNEED) */
	int thp;		/* from-space backed by transparent huge pages */
	int eagain_stress;	/* non-cooperative events during compaction */
	int watchdog;		/* seconds; 0: none */
};

/* What one thread used during compaction: CPU time (the scheduler's exact
 * runtime, CLOCK_THREAD_CPUTIME_ID) and context switches (getrusage). On one
 * vCPU this says how the CPU was shared between collector, handler and
 * mutators. */
struct cpu_acct {
	int64_t cpu_ns;
	long vcsw, ivcsw;
};

static void cpu_mark(struct cpu_acct *a, int sign)
{
	struct timespec t;
	struct rusage ru;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	a->cpu_ns += sign * ((int64_t)t.tv_sec * 1000000000 + t.tv_nsec);
	if (getrusage(RUSAGE_THREAD, &ru) == 0) {
		a->vcsw += sign * ru.ru_nvcsw;
		a->ivcsw += sign * ru.ru_nivcsw;
	}
}

static void acct_sum(struct cpu_acct *to, const struct cpu_acct *a)
{
	to->cpu_ns += a->cpu_ns;
	to->vcsw += a->vcsw;
	to->ivcsw += a->ivcsw;
}

struct tstat {			/* per installer thread */
	uint64_t installs, eexist, eagain, ebusy, recycled, fresh;
	uint64_t faults, wakes, helped, stray, events, anomalies;
	struct cpu_acct cpu;	/* during compaction */
	int cpu_done;
	int is_handler;		/* the thread that reads the userfaultfd */
	char *fresh_page;	/* private scratch page */
	char *spare;		/* recycled page kept after a lost race */
};

struct mutator {
	pthread_t th;
	int tid;
	uint64_t rng;
	uint64_t ops, faults, online_err;
	uint64_t *lat;		/* ns */
	uint32_t nlat;
	uint64_t nseen;
	struct sim *sim;
	struct tstat ts;	/* --fault-mode sigbus: this thread installs */
};

struct sim {
	const struct opts *o;
	int move;		/* 1: UFFDIO_MOVE, 0: UFFDIO_COPY */
	size_t pg;
	int uffd;
	char *from, *to;
	uint64_t heap, to_len;	/* to_len: heap + EXTRA_PAGES */
	/* all objects */
	uint32_t nobj;
	uint64_t *obj_off;
	/* live objects, sorted by address (same order in both spaces) */
	uint32_t nlive;
	struct live *live;
	uint64_t live_bytes;
	uint32_t nrefs_total;
	int32_t *exp_ref;	/* live index or -1 */
	uint64_t *exp_counter;
	/* to-space pages */
	uint64_t npages;
	uint8_t *pstate;
	uint64_t *src_lo, *src_hi; /* from-space byte span read per page */
	/* from-space pages */
	uint64_t nfrom;
	uint32_t *from_first;	/* first live object starting at or after page q */
	uint32_t *need;		/* to-pages still to install that read it */
	/* recycled scratch pool */
	pthread_mutex_t pool_lock;
	char **pool;
	uint64_t npool;
	/* progress */
	uint64_t installed;
	volatile int stop;
	int disturber_done;	/* atomic: no more REMOVE events will come */
	uint64_t disturbs;
	int anomalies_shown;
	uint64_t t0;		/* when the first thread left the start barrier */
	pthread_barrier_t start;
	struct tstat coll, hand;
	uint64_t *deferred;	/* handler thread: faults read, not yet handled */
	size_t ndeferred, cap_deferred;
	int corrupt_page;
};

static double rndf(uint64_t *s)
{
	return (rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t obj_check(uint32_t id, uint32_t size, uint32_t nrefs)
{
	return (uint32_t)splitmix(((uint64_t)id << 32) ^ ((uint64_t)size << 8) ^ nrefs);
}

static uint64_t payload_word(uint32_t id, uint32_t k)
{
	return splitmix(((uint64_t)id << 24) ^ k ^ 0x5eedull << 56);
}

static uint64_t counter_init(uint32_t id)
{
	return (uint64_t)id * 1000;
}

/* ------------------------------------------------------------------ */
/* heap construction, mark, forwarding                                 */

static struct obj *from_obj(struct sim *s, uint64_t off)
{
	return (struct obj *)(s->from + off);
}

/* index of the live object whose from-space offset is exactly off, or -1:
 * the forwarding lookup of reference fix-up (ART uses a live-words bitmap
 * and per-chunk offsets; a per-page index of the first live object does the
 * same job here) */
static int64_t live_by_old(struct sim *s, uint64_t off)
{
	uint64_t q = off / s->pg;
	uint32_t k;

	if (q >= s->nfrom)
		return -1;
	for (k = s->from_first[q]; k < s->nlive && s->live[k].old_off < off; k++)
		;
	return k < s->nlive && s->live[k].old_off == off ? (int64_t)k : -1;
}

/* index of the live object starting exactly at to-space offset off, or -1 */
static int64_t live_by_new(struct sim *s, uint64_t off)
{
	int64_t lo = 0, hi = (int64_t)s->nlive - 1;

	while (lo <= hi) {
		int64_t m = (lo + hi) / 2;

		if (s->live[m].new_off == off)
			return m;
		if (s->live[m].new_off < off)
			lo = m + 1;
		else
			hi = m - 1;
	}
	return -1;
}

/* first live object that ends after to-space offset off */
static uint32_t live_first_after(struct sim *s, uint64_t off)
{
	uint32_t lo = 0, hi = s->nlive;

	while (lo < hi) {
		uint32_t m = lo + (hi - lo) / 2;

		if (s->live[m].new_off + s->live[m].size <= off)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		die(3, "out of memory (%zu x %zu bytes)", n, sz);
	return p;
}

static char *xmmap(size_t len, int nohuge)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die(3, "mmap %zu bytes: %s", len, strerror(errno));
	if (nohuge)
		madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB pages only */
	return p;
}

/* 2 MiB aligned, MADV_HUGEPAGE: huge pages where the kernel can */
static char *xmmap_thp(size_t len)
{
	char *p = map_aligned(len, 2ul << 20, PROT_READ | PROT_WRITE, 0);

	madvise(p, len, MADV_HUGEPAGE);
	return p;
}

static uint32_t pick_size(const struct opts *o, uint64_t *r)
{
	/* skewed towards small objects, as in real heaps */
	double u = rndf(r);
	uint64_t sz = o->obj_min + (uint64_t)((o->obj_max - o->obj_min) * u * u * u);

	sz = (sz + 7) & ~7ull;
	if (sz > o->obj_max)
		sz = o->obj_max & ~7u;
	if (sz < o->obj_min)
		sz = (o->obj_min + 7) & ~7u;
	return (uint32_t)sz;
}

static void build_heap(struct sim *s)
{
	const struct opts *o = s->o;
	uint64_t r = splitmix(o->seed ^ 0x4845415000000000ull);
	uint64_t off = 0, cap = s->heap / HDR_SIZE + 1;
	uint32_t *size, *nrefs, i, w;
	uint8_t *live;

	s->from = o->thp ? xmmap_thp(s->heap) : xmmap(s->heap, 1);
	s->obj_off = xcalloc(cap, sizeof(*s->obj_off));
	size = xcalloc(cap, sizeof(*size));
	nrefs = xcalloc(cap, sizeof(*nrefs));
	live = xcalloc(cap, 1);

	/* allocate objects until the heap is full */
	s->nobj = 0;
	for (;;) {
		uint32_t sz = pick_size(o, &r), maxr, nr;

		if (off + sz > s->heap) {
			sz = (uint32_t)((s->heap - off) & ~7ull);
			if (sz < o->obj_min || sz < HDR_SIZE)
				break;
		}
		maxr = (sz - HDR_SIZE) / 8;
		if (maxr > MAX_REFS)
			maxr = MAX_REFS;
		nr = maxr ? (uint32_t)(rnd(&r) % (maxr + 1)) : 0;
		if (nr > 4 && (rnd(&r) & 1))
			nr = 1 + (uint32_t)(rnd(&r) % 4);
		s->obj_off[s->nobj] = off;
		size[s->nobj] = sz;
		nrefs[s->nobj] = nr;
		s->nobj++;
		off += sz;
	}
	if (!s->nobj)
		die(2, "heap too small for one object");

	/* intended live set */
	uint32_t nl = 0;
	for (i = 0; i < s->nobj; i++) {
		live[i] = rndf(&r) < o->live_ratio;
		nl += live[i];
	}
	if (!nl) {
		live[s->nobj / 2] = 1;
		nl = 1;
	}
	uint32_t *lidx = xcalloc(nl, sizeof(*lidx));
	uint32_t *inner = xcalloc(nl, sizeof(*inner));
	uint32_t ninner = 0, k = 0;
	for (i = 0; i < s->nobj; i++) {
		if (!live[i])
			continue;
		lidx[k++] = i;
		if (nrefs[i])
			inner[ninner++] = i;
	}
	/* shuffle the inner (referencing) live objects into a chain */
	for (i = ninner; i > 1; i--) {
		uint32_t j = (uint32_t)(rnd(&r) % i), t = inner[i - 1];

		inner[i - 1] = inner[j];
		inner[j] = t;
	}

	/* write objects; refs are absolute from-space addresses */
	uint64_t fb = (uint64_t)(uintptr_t)s->from;
	for (i = 0; i < s->nobj; i++) {
		struct obj *ob = from_obj(s, s->obj_off[i]);
		uint32_t nw = (size[i] - HDR_SIZE) / 8 - nrefs[i];

		ob->size = size[i];
		ob->id = i;
		ob->nrefs = nrefs[i];
		ob->check = obj_check(i, size[i], nrefs[i]);
		ob->counter = counter_init(i);
		for (w = 0; w < nrefs[i]; w++) {
			if (live[i]) {
				ob->refs[w] = 0; /* filled below */
			} else {
				uint32_t t = (uint32_t)(rnd(&r) % s->nobj);

				ob->refs[w] = (rnd(&r) % 8) ? fb + s->obj_off[t] : 0;
			}
		}
		for (w = 0; w < nw; w++)
			ob->refs[nrefs[i] + w] = payload_word(i, w);
	}
	/* live refs: a chain through all inner objects, leaves hung on free
	 * slots, remaining slots random live objects or null */
	uint32_t *roots = xcalloc(nl + 1, sizeof(*roots)), nroots = 0;
	for (i = 0; i < ninner; i++) {
		struct obj *ob = from_obj(s, s->obj_off[inner[i]]);

		ob->refs[0] = i + 1 < ninner ? fb + s->obj_off[inner[i + 1]] : 0;
	}
	if (ninner)
		roots[nroots++] = inner[0];
	/* free slots: (inner, slot >= 1) */
	uint32_t leaf = 0;
	for (i = 0; i < ninner; i++) {
		struct obj *ob = from_obj(s, s->obj_off[inner[i]]);

		for (w = 1; w < ob->nrefs; w++) {
			while (leaf < nl && nrefs[lidx[leaf]])
				leaf++;
			if (leaf < nl && rnd(&r) % 4) {
				ob->refs[w] = fb + s->obj_off[lidx[leaf++]];
			} else if (rnd(&r) % 8) {
				ob->refs[w] = fb + s->obj_off[lidx[rnd(&r) % nl]];
			} else {
				ob->refs[w] = 0;
			}
		}
	}
	for (; leaf < nl; leaf++)
		if (!nrefs[lidx[leaf]])
			roots[nroots++] = lidx[leaf];

	/* mark: trace from the roots through the from-space */
	uint8_t *mark = xcalloc(s->nobj, 1);
	uint32_t *stack = xcalloc(s->nobj, sizeof(*stack)), sp = 0;
	for (i = 0; i < nroots; i++)
		if (!mark[roots[i]]) {
			mark[roots[i]] = 1;
			stack[sp++] = roots[i];
		}
	while (sp) {
		struct obj *ob = from_obj(s, s->obj_off[stack[--sp]]);

		for (w = 0; w < ob->nrefs; w++) {
			uint64_t a = ob->refs[w];
			uint32_t t;

			if (!a)
				continue;
			t = ((struct obj *)(uintptr_t)a)->id;
			if (!mark[t]) {
				mark[t] = 1;
				stack[sp++] = t;
			}
		}
	}
	for (i = 0; i < s->nobj; i++)
		if (mark[i] != live[i])
			die(3, "internal error: mark phase disagrees with the "
			    "generated live set at object %u", i);

	/* forwarding: sliding compaction into the to-space */
	s->nlive = nl;
	s->live = xcalloc(nl, sizeof(*s->live));
	s->live_bytes = 0;
	s->nrefs_total = 0;
	for (k = 0; k < nl; k++) {
		struct live *L = &s->live[k];

		i = lidx[k];
		L->old_off = s->obj_off[i];
		L->new_off = s->live_bytes;
		L->size = size[i];
		L->id = i;
		L->nrefs = nrefs[i];
		L->ref_base = s->nrefs_total;
		s->live_bytes += size[i];
		s->nrefs_total += nrefs[i];
	}
	s->nfrom = s->heap / s->pg;
	s->from_first = xcalloc(s->nfrom + 1, sizeof(uint32_t));
	for (uint64_t q = 0, kk = 0; q <= s->nfrom; q++) {
		while (kk < nl && s->live[kk].old_off < q * s->pg)
			kk++;
		s->from_first[q] = (uint32_t)kk;
	}
	s->exp_ref = xcalloc(s->nrefs_total, sizeof(*s->exp_ref));
	s->exp_counter = xcalloc(nl, sizeof(*s->exp_counter));
	for (k = 0; k < nl; k++) {
		struct live *L = &s->live[k];
		struct obj *ob = from_obj(s, L->old_off);

		s->exp_counter[k] = counter_init(L->id);
		for (w = 0; w < L->nrefs; w++) {
			int64_t t = ob->refs[w] ? live_by_old(s, ob->refs[w] - fb) : -1;

			if (ob->refs[w] && t < 0)
				die(3, "internal error: live object refers to a dead one");
			s->exp_ref[L->ref_base + w] = (int32_t)t;
		}
	}

	/* per to-space page: the from-space span it reads */
	s->npages = (s->live_bytes + s->pg - 1) / s->pg;
	s->pstate = xcalloc(s->npages, 1);
	s->src_lo = xcalloc(s->npages, sizeof(uint64_t));
	s->src_hi = xcalloc(s->npages, sizeof(uint64_t));
	s->need = xcalloc(s->nfrom, sizeof(uint32_t));
	for (uint64_t p = 0; p < s->npages; p++)
		s->src_lo[p] = UINT64_MAX;
	for (k = 0; k < nl; k++) {
		struct live *L = &s->live[k];
		uint64_t a = L->new_off, e = L->new_off + L->size;

		while (a < e) {
			uint64_t p = a / s->pg, pe = (p + 1) * s->pg;
			uint64_t b = e < pe ? e : pe;
			uint64_t slo = L->old_off + (a - L->new_off);
			uint64_t shi = L->old_off + (b - L->new_off);

			if (slo < s->src_lo[p])
				s->src_lo[p] = slo;
			if (shi > s->src_hi[p])
				s->src_hi[p] = shi;
			a = b;
		}
	}
	for (uint64_t p = 0; p < s->npages; p++)
		for (uint64_t q = s->src_lo[p] / s->pg;
		     q <= (s->src_hi[p] - 1) / s->pg; q++)
			s->need[q]++;

	free(size);
	free(nrefs);
	free(live);
	free(lidx);
	free(inner);
	free(roots);
	free(mark);
	free(stack);
}

/* ------------------------------------------------------------------ */
/* compaction                                                          */

/* All threads start together; the clock starts when the first one leaves
 * the barrier (whichever thread the scheduler runs first). */
static void start_barrier(struct sim *s)
{
	uint64_t zero = 0;

	pthread_barrier_wait(&s->start);
	__atomic_compare_exchange_n(&s->t0, &zero, now_ns(), 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
}

static void handler_drain(struct sim *s);

/* The kernel broke the UFFDIO_MOVE contract: report (the first few), count;
 * the run fails. */
static void anomaly(struct sim *s, struct tstat *ts, const char *fmt, ...)
{
	va_list ap;

	ts->anomalies++;
	if (__atomic_fetch_add(&s->anomalies_shown, 1, __ATOMIC_RELAXED) >= 5)
		return;
	fprintf(stderr, "%s: KERNEL ANOMALY: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* An install met EAGAIN: let the pending non-cooperative event complete. */
static void eagain_backoff(struct sim *s, struct tstat *ts)
{
	if (ts->is_handler)
		handler_drain(s);
	else
		sched_yield();
}

static void pool_push(struct sim *s, char *page)
{
	pthread_mutex_lock(&s->pool_lock);
	s->pool[s->npool++] = page;
	pthread_mutex_unlock(&s->pool_lock);
}

static char *pool_pop(struct sim *s)
{
	char *p = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->npool)
		p = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_lock);
	return p;
}

/* Build the contents of to-space page p in buf. A pure function of the
 * (immutable) from-space, so racing installers build identical pages. */
static void compact_page(struct sim *s, uint64_t p, char *buf)
{
	uint64_t ps = p * s->pg, pe = ps + s->pg, pos = ps;
	uint64_t fb = (uint64_t)(uintptr_t)s->from;
	uint64_t tb = (uint64_t)(uintptr_t)s->to;
	uint32_t k = live_first_after(s, ps);

	for (; k < s->nlive && s->live[k].new_off < pe; k++) {
		struct live *L = &s->live[k];
		uint64_t lo = L->new_off > ps ? L->new_off : ps;
		uint64_t hi = L->new_off + L->size < pe ? L->new_off + L->size : pe;
		uint32_t w;

		memcpy(buf + (lo - ps), s->from + L->old_off + (lo - L->new_off),
		       hi - lo);
		for (w = 0; w < L->nrefs; w++) {
			uint64_t a = L->new_off + HDR_SIZE + 8ull * w;
			uint64_t *f, v;
			int64_t t;

			if (a < lo || a >= hi)
				continue;
			f = (uint64_t *)(buf + (a - ps));
			v = *f;
			if (!v)
				continue;
			t = live_by_old(s, v - fb);
			*f = t >= 0 ? tb + s->live[t].new_off : 0xdeadbeefdeadbeefull;
		}
		pos = hi;
	}
	if (pos < pe)
		memset(buf + (pos - ps), 0, pe - pos);
	if ((int64_t)p == s->corrupt_page)
		buf[123] ^= 0x5a;	/* --self-test-corrupt */
}

static char *get_scratch(struct sim *s, struct tstat *ts, int *recycled)
{
	char *p;

	*recycled = 0;
	if (s->move && s->o->recycle) {
		if (ts->spare) {
			p = ts->spare;
			ts->spare = NULL;
			*recycled = 1;
			return p;
		}
		p = pool_pop(s);
		if (p) {
			*recycled = 1;
			return p;
		}
	}
	return ts->fresh_page;
}

/* The page is in place: release the from-space pages it read. */
static void page_installed(struct sim *s, uint64_t p)
{
	__atomic_store_n(&s->pstate[p], PG_DONE, __ATOMIC_RELEASE);
	__atomic_add_fetch(&s->installed, 1, __ATOMIC_RELEASE);
	for (uint64_t q = s->src_lo[p] / s->pg; q <= (s->src_hi[p] - 1) / s->pg; q++)
		if (__atomic_sub_fetch(&s->need[q], 1, __ATOMIC_ACQ_REL) == 0 &&
		    s->move && s->o->recycle)
			pool_push(s, s->from + q * s->pg);
}

static int do_copy(struct sim *s, struct tstat *ts, char *dst, char *src)
{
	for (long tries = 0;; tries++) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)dst, .src = (uintptr_t)src,
			.len = s->pg, .mode = 0,
		};

		if (ioctl(s->uffd, UFFDIO_COPY, &c) == 0)
			return 1;
		if (errno == EEXIST) {
			ts->eexist++;
			return 0;
		}
		if (errno == EAGAIN) {
			/* mm changing, or partial copy: resume after the done part */
			ts->eagain++;
			if (c.copy > 0)	/* one page: done means done */
				return 1;
			if (tries > 1000000)
				die(3, "UFFDIO_COPY dst=%p: EAGAIN without progress, "
				    "1000000 times", dst);
			eagain_backoff(s, ts);
			continue;
		}
		die(3, "UFFDIO_COPY dst=%p: %s", dst, strerror(errno));
	}
}

/* Compact to-space page p and install it. Returns 1 if this call installed
 * the page, 0 if someone else had (EEXIST). */
static int install_page(struct sim *s, struct tstat *ts, uint64_t p)
{
	int recycled, ok;
	char *dst = s->to + p * s->pg;
	char *scratch = get_scratch(s, ts, &recycled);

	compact_page(s, p, scratch);
	if (!s->move) {
		ok = do_copy(s, ts, dst, scratch);
		if (ok) {
			ts->installs++;
			page_installed(s, p);
		}
		/* give the scratch page back after UFFDIO_COPY (unless
		 * --copy-scratch reuse: then the from-space is given back in one
		 * call after compaction) */
		if (!s->o->copy_reuse) {
			madvise(scratch, s->pg, MADV_DONTNEED);
			ts->fresh++;
		}
		return ok;
	}
	for (long tries = 0;; tries++) {
		struct uffdio_move m = {
			.dst = (uintptr_t)dst, .src = (uintptr_t)scratch,
			.len = s->pg, .mode = 0,
		};

		if (ioctl(s->uffd, UFFDIO_MOVE, &m) == 0) {
			ok = 1;
			break;
		}
		if (errno == EAGAIN) {
			ts->eagain++;
			if (m.move == (int64_t)s->pg) {
				ok = 1;
				break;
			}
			if (tries > 1000000)
				die(3, "UFFDIO_MOVE dst=%p: EAGAIN without progress, "
				    "1000000 times", dst);
			eagain_backoff(s, ts);
			continue;
		}
		if (errno == EEXIST) {
			unsigned char vec = 1;

			if (mincore(scratch, s->pg, &vec) == 0 && !(vec & 1)) {
				/* the source is gone, so this call did move it:
				 * a contract violation (seen on 6.18 when another
				 * thread moves a page of the same THP). Count it
				 * as installed, so nothing hangs, and fail. */
				struct uffdio_range r = { .start = (uintptr_t)dst,
							  .len = s->pg };

				anomaly(s, ts, "UFFDIO_MOVE returned EEXIST (move=%lld) but "
					"moved the page: dst=%p src=%p now empty",
					(long long)m.move, dst, scratch);
				/* a failed call wakes nobody: wake the waiters */
				ioctl(s->uffd, UFFDIO_WAKE, &r);
				ok = 1;
				break;
			}
			/* lost the race: the page at src is still ours */
			ts->eexist++;
			if (recycled)
				ts->spare = scratch;
			return 0;
		}
		if (errno == EBUSY) {
			/* page shared or pinned: the kernel won't move it, copy */
			ts->ebusy++;
			ok = do_copy(s, ts, dst, scratch);
			if (recycled)
				ts->spare = scratch; /* still ours: reuse it */
			goto out;
		}
		die(3, "UFFDIO_MOVE dst=%p src=%p: %s", dst, scratch,
		    strerror(errno));
	}
	if (recycled)
		ts->recycled++;
	else
		ts->fresh++;
out:
	if (ok) {
		ts->installs++;
		page_installed(s, p);
	}
	return ok;
}

/* Read whatever the userfaultfd has without blocking. Events (REMOVE) are
 * acknowledged by the read itself; faults are queued for the handler loop.
 * Called by the handler thread only, also from inside install_page() when
 * an ioctl says EAGAIN: the pending event it waits for may be ours to read,
 * and nobody else reads the userfaultfd. */
static void handler_drain(struct sim *s)
{
	struct uffd_msg msgs[16];
	ssize_t n;

	while ((n = read(s->uffd, msgs, sizeof(msgs))) > 0) {
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
				s->hand.events++;
				continue;
			}
			if (s->ndeferred == s->cap_deferred) {
				s->cap_deferred = s->cap_deferred ? 2 * s->cap_deferred : 256;
				s->deferred = realloc(s->deferred, s->cap_deferred *
						      sizeof(*s->deferred));
				if (!s->deferred)
					die(3, "out of memory");
			}
			s->deferred[s->ndeferred++] = msgs[i].arg.pagefault.address;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		die(3, "read(userfaultfd): %s", strerror(errno));
}

static void handle_fault(struct sim *s, uint64_t addr)
{
	struct tstat *ts = &s->hand;
	uint64_t a = addr & ~(uint64_t)(s->pg - 1);
	uint64_t p = (a - (uintptr_t)s->to) / s->pg;
	uint8_t st;

	ts->faults++;
	if (p >= s->npages) {
		/* outside the live part: never touched normally */
		struct uffdio_zeropage z = { .range = { .start = a, .len = s->pg } };

		ts->stray++;
		while (ioctl(s->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST) {
			if (errno != EAGAIN)
				die(3, "UFFDIO_ZEROPAGE: %s", strerror(errno));
			handler_drain(s);
		}
		return;
	}
	st = __atomic_load_n(&s->pstate[p], __ATOMIC_ACQUIRE);
	if (st == PG_DONE) {
		/* installed after the fault was queued */
		struct uffdio_range r = { .start = a, .len = s->pg };

		ts->wakes++;
		ioctl(s->uffd, UFFDIO_WAKE, &r);
		return;
	}
	if (st == PG_TODO &&
	    __atomic_compare_exchange_n(&s->pstate[p], &st, PG_BUSY, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		install_page(s, ts, p);
		return;
	}
	/* the collector is compacting it right now: don't wait, build it too;
	 * whoever installs second gets EEXIST */
	ts->helped++;
	install_page(s, ts, p);
}

/* Compaction is stuck (a lost wake-up, a page nobody installs): say what
 * is known and exit rather than hang the guest. */
static void watchdog_report(struct sim *s)
{
	uint64_t n[3] = { 0, 0, 0 }, shown = 0;
	char line[256];
	FILE *f;

	fprintf(stderr, "%s: WATCHDOG: compaction not finished after %d s: "
		"%" PRIu64 " of %" PRIu64 " pages installed (%s mode)\n", prog,
		s->o->watchdog, s->installed, s->npages, s->move ? "move" : "copy");
	for (uint64_t p = 0; p < s->npages; p++) {
		uint8_t st = __atomic_load_n(&s->pstate[p], __ATOMIC_ACQUIRE);

		n[st]++;
		if (st != PG_DONE && shown++ < 10) {
			unsigned char vec = 0;

			mincore(s->to + p * s->pg, s->pg, &vec);
			fprintf(stderr, "%s:   page %" PRIu64 " (%p) state %s, %s\n",
				prog, p, s->to + p * s->pg,
				st == PG_TODO ? "todo" : "busy",
				vec & 1 ? "mapped" : "not mapped");
		}
	}
	fprintf(stderr, "%s:   states: %" PRIu64 " todo, %" PRIu64 " busy, %" PRIu64
		" done; handler: %" PRIu64 " faults, %" PRIu64 " installs, %" PRIu64
		" eexist, %" PRIu64 " ebusy; collector: %" PRIu64 " installs, %"
		PRIu64 " eexist, %" PRIu64 " ebusy\n", prog, n[0], n[1], n[2],
		s->hand.faults, s->hand.installs, s->hand.eexist, s->hand.ebusy,
		s->coll.installs, s->coll.eexist, s->coll.ebusy);
	snprintf(line, sizeof(line), "/proc/self/fdinfo/%d", s->uffd);
	f = fopen(line, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "pending", 7) || !strncmp(line, "total", 5))
			fprintf(stderr, "%s:   userfaultfd %s", prog, line);
	if (f)
		fclose(f);
	exit(3);
}

/* Threads still blocked in userfaults (fdinfo "total"), -1 if unknown. */
static long uffd_waiters(struct sim *s)
{
	char line[128];
	long n = -1;
	FILE *f;

	snprintf(line, sizeof(line), "/proc/self/fdinfo/%d", s->uffd);
	f = fopen(line, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "total: %ld", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void *handler_main(void *arg)
{
	struct sim *s = arg;

	start_barrier(s);
	cpu_mark(&s->hand.cpu, -1);
	/* after the stop, until the disturber's last MADV_DONTNEED has
	 * returned: its REMOVE event blocks it until this thread reads it */
	while (!s->stop || !__atomic_load_n(&s->disturber_done, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };

		if (!s->ndeferred && poll(&pfd, 1, 10) <= 0)
			continue;
		handler_drain(s);
		/* oldest first; handling may queue more */
		for (size_t i = 0; i < s->ndeferred; i++)
			handle_fault(s, s->deferred[i]);
		s->ndeferred = 0;
		if (s->stop && !s->hand.cpu_done) {
			cpu_mark(&s->hand.cpu, 1);
			s->hand.cpu_done = 1;
		}
	}
	if (!s->hand.cpu_done)
		cpu_mark(&s->hand.cpu, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* --fault-mode sigbus: the faulting mutator builds and installs the page
 * in its SIGBUS handler, as ART does with UFFD_FEATURE_SIGBUS. The handler
 * never touches the to-space and mutators take no lock outside it, so the
 * calls it makes cannot re-enter anything the thread was doing. */

static struct sim *g_sim;
static __thread struct mutator *t_mut;

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	struct sim *s = g_sim;
	struct mutator *m = t_mut;
	char *a = si->si_addr;
	uint64_t p;
	uint8_t st;

	(void)uc;
	if (!s || !m || a < s->to || a >= s->to + s->npages * s->pg) {
		/* a real bus error: let it kill us on return */
		signal(sig, SIG_DFL);
		return;
	}
	p = (uint64_t)(a - s->to) / s->pg;
	m->ts.faults++;
	st = __atomic_load_n(&s->pstate[p], __ATOMIC_ACQUIRE);
	if (st == PG_DONE)
		return;		/* installed meanwhile: just retry the access */
	if (st == PG_TODO &&
	    __atomic_compare_exchange_n(&s->pstate[p], &st, PG_BUSY, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		install_page(s, &m->ts, p);
		return;
	}
	m->ts.helped++;
	install_page(s, &m->ts, p);
}

/* --eagain-stress: MADV_DONTNEED on registered to-space pages past the
 * heap raises UFFD_EVENT_REMOVE; until the handler thread has read it the
 * kernel refuses UFFDIO_COPY/UFFDIO_MOVE with EAGAIN ("mmap changing"),
 * which the installers must retry. */
static void *disturber_main(void *arg)
{
	struct sim *s = arg;
	uint64_t i = 0;

	start_barrier(s);
	while (!s->stop) {
		struct timespec ts = { 0, 50000 };

		madvise(s->to + s->heap + (i++ % EXTRA_PAGES) * s->pg, s->pg,
			MADV_DONTNEED);
		s->disturbs++;
		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&s->disturber_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* mutators                                                            */

static void lat_add(struct mutator *m, uint64_t ns)
{
	m->nseen++;
	if (m->nlat < LAT_CAP) {
		m->lat[m->nlat++] = ns;
	} else {
		uint64_t j = rnd(&m->rng) % m->nseen; /* reservoir sampling */

		if (j < LAT_CAP)
			m->lat[j] = ns;
	}
}

/* Touch every page of to-space object k, timing the ones that fault. */
static void touch_object(struct sim *s, struct mutator *m, uint32_t k)
{
	struct live *L = &s->live[k];
	uint64_t p0 = L->new_off / s->pg, p1 = (L->new_off + L->size - 1) / s->pg;

	for (uint64_t p = p0; p <= p1; p++) {
		volatile char *c = s->to + (p == p0 ? L->new_off : p * s->pg);

		unsigned char vec = 0;

		/* the state is set just after the ioctl returns: if it says
		 * "not done", ask the page tables whether the page is there */
		if (__atomic_load_n(&s->pstate[p], __ATOMIC_ACQUIRE) == PG_DONE ||
		    (mincore(s->to + p * s->pg, s->pg, &vec) == 0 && (vec & 1))) {
			(void)*c;
			continue;
		}
		uint64_t t0 = now_ns();
		(void)*c;
		lat_add(m, now_ns() - t0);
		m->faults++;
	}
}

static int check_header(struct sim *s, uint32_t k)
{
	struct live *L = &s->live[k];
	struct obj *ob = (struct obj *)(s->to + L->new_off);

	return ob->size == L->size && ob->id == L->id && ob->nrefs == L->nrefs &&
	       ob->check == obj_check(L->id, L->size, L->nrefs);
}

static void *mutator_main(void *arg)
{
	struct mutator *m = arg;
	struct sim *s = m->sim;
	int nt = s->o->threads;
	uint64_t tb = (uintptr_t)s->to;

	t_mut = m;
	start_barrier(s);
	cpu_mark(&m->ts.cpu, -1);
	while (!s->stop) {
		uint32_t k = (uint32_t)(rnd(&m->rng) % s->nlive);
		struct live *L = &s->live[k];
		struct obj *ob = (struct obj *)(s->to + L->new_off);

		m->ops++;
		touch_object(s, m, k);
		if (!check_header(s, k)) {
			m->online_err++;
			continue;
		}
		if ((int)(k % nt) == m->tid) {
			/* an object we own: update it */
			ob->counter++;
			s->exp_counter[k]++;
			if (L->nrefs && rnd(&m->rng) % 4 == 0) {
				uint32_t w = (uint32_t)(rnd(&m->rng) % L->nrefs);
				uint32_t t = (uint32_t)(rnd(&m->rng) % s->nlive);

				__atomic_store_n(&ob->refs[w], tb + s->live[t].new_off,
						 __ATOMIC_RELAXED);
				s->exp_ref[L->ref_base + w] = (int32_t)t;
			}
		}
		/* follow a few references, checking where they lead */
		for (int d = 0; d < 3 && ob->nrefs; d++) {
			uint32_t w = (uint32_t)(rnd(&m->rng) % ob->nrefs);
			uint64_t a = __atomic_load_n(&ob->refs[w], __ATOMIC_RELAXED);
			int64_t t;

			if (!a)
				break;
			if (a < tb || a >= tb + s->live_bytes ||
			    (t = live_by_new(s, a - tb)) < 0) {
				m->online_err++;
				break;
			}
			touch_object(s, m, (uint32_t)t);
			if (!check_header(s, (uint32_t)t)) {
				m->online_err++;
				break;
			}
			ob = (struct obj *)(s->to + s->live[t].new_off);
		}
	}
	cpu_mark(&m->ts.cpu, 1);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* verification                                                        */

static uint64_t verify(struct sim *s, uint64_t *nrefs_checked)
{
	uint64_t bad = 0, tb = (uintptr_t)s->to;
	const int show = 10;

#define BAD(fmt, ...) do {						\
		if (bad++ < show)					\
			fprintf(stderr, "%s: MISMATCH " fmt "\n", prog, __VA_ARGS__); \
	} while (0)

	*nrefs_checked = 0;
	for (uint32_t k = 0; k < s->nlive; k++) {
		struct live *L = &s->live[k];
		struct obj *ob = (struct obj *)(s->to + L->new_off);
		uint32_t nw = (L->size - HDR_SIZE) / 8 - L->nrefs;

		if (ob->size != L->size || ob->id != L->id || ob->nrefs != L->nrefs ||
		    ob->check != obj_check(L->id, L->size, L->nrefs)) {
			BAD("object %u (id %u) at to+%#" PRIx64 ": header size=%u id=%u "
			    "nrefs=%u check=%#x, want size=%u id=%u nrefs=%u check=%#x",
			    k, L->id, L->new_off, ob->size, ob->id, ob->nrefs,
			    ob->check, L->size, L->id, L->nrefs,
			    obj_check(L->id, L->size, L->nrefs));
			continue;
		}
		if (ob->counter != s->exp_counter[k])
			BAD("object %u (id %u) at to+%#" PRIx64 ": counter %" PRIu64
			    ", want %" PRIu64, k, L->id, L->new_off, ob->counter,
			    s->exp_counter[k]);
		for (uint32_t w = 0; w < L->nrefs; w++) {
			int32_t t = s->exp_ref[L->ref_base + w];
			uint64_t want = t < 0 ? 0 : tb + s->live[t].new_off;

			(*nrefs_checked)++;
			if (ob->refs[w] != want)
				BAD("object %u (id %u) at to+%#" PRIx64 ": ref[%u] = %#"
				    PRIx64 ", want %#" PRIx64 " (object %d)", k, L->id,
				    L->new_off, w, ob->refs[w], want, t);
		}
		for (uint32_t w = 0; w < nw; w++)
			if (ob->refs[L->nrefs + w] != payload_word(L->id, w)) {
				BAD("object %u (id %u) at to+%#" PRIx64 ": payload word "
				    "%u = %#" PRIx64 ", want %#" PRIx64, k, L->id,
				    L->new_off, w, ob->refs[L->nrefs + w],
				    payload_word(L->id, w));
				break;
			}
	}
	for (uint64_t a = s->live_bytes; a < s->npages * s->pg; a++)
		if (s->to[a]) {
			BAD("to+%#" PRIx64 " after the last object is %#x, want 0",
			    a, (unsigned char)s->to[a]);
			break;
		}
	if (bad > (uint64_t)show)
		fprintf(stderr, "%s: ... %" PRIu64 " mismatches in total\n", prog, bad);
	return bad;
#undef BAD
}

/* ------------------------------------------------------------------ */
/* one run                                                             */

struct result {
	int move;
	double ms, release_ms;
	long from_thp_kb;
	uint64_t pages, coll_inst, hand_inst, faults, wakes, helped, eexist, eagain;
	uint64_t ebusy, recycled, fresh, stray, ops, mfaults, online_err;
	uint64_t events, disturbs, anomalies;
	struct cpu_acct cpu_coll, cpu_hand, cpu_mut;
	double lat_med_us, lat_p99_us;
	uint64_t nlat;
	uint64_t mismatches, refs_checked;
	uint32_t nobj, nlive;
	uint64_t live_bytes;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run_once(const struct opts *o, int move, struct result *res)
{
	struct sim S, *s = &S;
	struct mutator mut[MAX_THREADS];
	pthread_t hth, dth;
	uint64_t t0, t1, t2, t3;
	long from_thp_kb;
	int i;

	memset(s, 0, sizeof(*s));
	memset(mut, 0, sizeof(mut));
	s->o = o;
	s->move = move;
	s->pg = (size_t)sysconf(_SC_PAGESIZE);
	s->heap = o->heap & ~(uint64_t)(s->pg - 1);
	s->corrupt_page = -1;
	s->disturber_done = !o->eagain_stress;
	build_heap(s);
	if (o->corrupt)
		s->corrupt_page = (int)(s->npages / 2);

	/* scratch */
	s->coll.fresh_page = xmmap(s->pg, 1);
	s->hand.fresh_page = xmmap(s->pg, 1);
	s->hand.is_handler = 1;
	pthread_mutex_init(&s->pool_lock, NULL);
	s->pool = xcalloc(s->nfrom, sizeof(char *));
	if (move && o->recycle)
		for (uint64_t q = 0; q < s->nfrom; q++)
			if (!s->need[q])
				s->pool[s->npool++] = s->from + q * s->pg;

	from_thp_kb = o->thp ? smaps_huge_kb(s->from) : 0;

	/* flip: the to-space goes under userfaultfd */
	s->uffd = uffd_create((move ? UFFD_FEATURE_MOVE : 0) |
			      (o->sigbus ? UFFD_FEATURE_SIGBUS : 0) |
			      (o->eagain_stress ? UFFD_FEATURE_EVENT_REMOVE : 0));
	if (o->sigbus) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigbus_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		g_sim = s;
		if (sigaction(SIGBUS, &sa, NULL))
			die(3, "sigaction: %s", strerror(errno));
	}
	s->to_len = s->heap + EXTRA_PAGES * s->pg;
	s->to = xmmap(s->to_len, 1);
	{
		uint64_t ioctls = uffd_register(s->uffd, s->to, s->to_len);

		if (move && !(ioctls & (1ull << _UFFDIO_MOVE)))
			fprintf(stderr, "%s: warning: UFFDIO_REGISTER does not report "
				"UFFDIO_MOVE in ioctls (%#llx)\n", prog,
				(unsigned long long)ioctls);
		if (!(ioctls & (1ull << _UFFDIO_COPY)))
			die(3, "UFFDIO_REGISTER: UFFDIO_COPY not available");
	}

	pthread_barrier_init(&s->start, NULL,
			     (unsigned)o->threads + 2 + !!o->eagain_stress);
	if (pthread_create(&hth, NULL, handler_main, s))
		die(3, "pthread_create failed");
	if (o->eagain_stress && pthread_create(&dth, NULL, disturber_main, s))
		die(3, "pthread_create failed");
	for (i = 0; i < o->threads; i++) {
		mut[i].tid = i;
		mut[i].sim = s;
		mut[i].rng = splitmix(o->seed * 131 + i + 1);
		mut[i].lat = xcalloc(LAT_CAP, sizeof(uint64_t));
		mut[i].ts.fresh_page = xmmap(s->pg, 1);
		if (pthread_create(&mut[i].th, NULL, mutator_main, &mut[i]))
			die(3, "pthread_create failed");
	}

	/* the collector: this thread */
	start_barrier(s);
	cpu_mark(&s->coll.cpu, -1);
	t0 = __atomic_load_n(&s->t0, __ATOMIC_ACQUIRE);
	for (uint64_t p = 0; p < s->npages; p++) {
		uint8_t st = PG_TODO;

		if (__atomic_compare_exchange_n(&s->pstate[p], &st, PG_BUSY, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			install_page(s, &s->coll, p);
	}
	while (__atomic_load_n(&s->installed, __ATOMIC_ACQUIRE) < s->npages) {
		struct timespec ts = { 0, 20000 };

		nanosleep(&ts, NULL);
		if (o->watchdog && now_ns() - t0 > (uint64_t)o->watchdog * 1000000000ull)
			watchdog_report(s);
	}
	t1 = now_ns();
	cpu_mark(&s->coll.cpu, 1);
	s->stop = 1;
	/* Every page is in place, so no thread may still wait on a fault once
	 * the wake-ups in flight are done. One that does was never woken. */
	for (i = 0; i < 100 && uffd_waiters(s) > 0; i++) {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
	}
	if (uffd_waiters(s) > 0) {
		struct uffdio_range r = { .start = (uintptr_t)s->to, .len = s->to_len };

		anomaly(s, &s->coll, "%ld thread(s) still blocked in a userfault 1 s "
			"after every page was installed (lost wake-up)", uffd_waiters(s));
		ioctl(s->uffd, UFFDIO_WAKE, &r);
	}
	if (o->eagain_stress)
		pthread_join(dth, NULL);	/* before the handler: it may wait on it */
	pthread_join(hth, NULL);
	for (i = 0; i < o->threads; i++)
		pthread_join(mut[i].th, NULL);
	/* give the from-space back: all of it in copy mode, what was not
	 * recycled in move mode (the rest is already gone) */
	t2 = now_ns();
	madvise(s->from, s->heap, MADV_DONTNEED);
	t3 = now_ns();

	{
		struct uffdio_range r = { .start = (uintptr_t)s->to, .len = s->to_len };

		if (ioctl(s->uffd, UFFDIO_UNREGISTER, &r))
			die(3, "UFFDIO_UNREGISTER: %s", strerror(errno));
	}

	memset(res, 0, sizeof(*res));
	res->move = move;
	res->ms = (t1 - t0) / 1e6;
	res->release_ms = (t3 - t2) / 1e6;
	res->from_thp_kb = from_thp_kb;
	res->pages = s->npages;
	res->nobj = s->nobj;
	res->nlive = s->nlive;
	res->live_bytes = s->live_bytes;
	res->coll_inst = s->coll.installs;
	res->hand_inst = s->hand.installs;
	res->faults = s->hand.faults;
	res->wakes = s->hand.wakes;
	res->helped = s->hand.helped;
	res->stray = s->hand.stray;
	res->events = s->hand.events;
	res->disturbs = s->disturbs;
	res->eexist = s->coll.eexist + s->hand.eexist;
	res->eagain = s->coll.eagain + s->hand.eagain;
	res->ebusy = s->coll.ebusy + s->hand.ebusy;
	res->anomalies = s->coll.anomalies + s->hand.anomalies;
	res->recycled = s->coll.recycled + s->hand.recycled;
	res->fresh = s->coll.fresh + s->hand.fresh;
	res->cpu_coll = s->coll.cpu;
	res->cpu_hand = s->hand.cpu;

	uint64_t nl = 0;
	for (i = 0; i < o->threads; i++) {
		struct tstat *t = &mut[i].ts;

		res->hand_inst += t->installs;
		res->faults += t->faults;
		res->helped += t->helped;
		res->eexist += t->eexist;
		res->eagain += t->eagain;
		res->ebusy += t->ebusy;
		res->anomalies += t->anomalies;
		res->recycled += t->recycled;
		res->fresh += t->fresh;
		acct_sum(&res->cpu_mut, &t->cpu);
		munmap(t->fresh_page, s->pg);
		res->ops += mut[i].ops;
		res->mfaults += mut[i].faults;
		res->online_err += mut[i].online_err;
		nl += mut[i].nlat;
	}
	uint64_t *all = xcalloc(nl, sizeof(uint64_t)), n = 0;
	for (i = 0; i < o->threads; i++) {
		memcpy(all + n, mut[i].lat, mut[i].nlat * sizeof(uint64_t));
		n += mut[i].nlat;
		free(mut[i].lat);
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	res->nlat = n;
	if (n) {
		res->lat_med_us = all[n / 2] / 1e3;
		res->lat_p99_us = all[n * 99 / 100 < n ? n * 99 / 100 : n - 1] / 1e3;
	}
	free(all);

	res->mismatches = verify(s, &res->refs_checked);
	if (res->online_err)
		fprintf(stderr, "%s: MISMATCH mutators saw %" PRIu64 " bad headers "
			"or dangling references during compaction\n", prog,
			res->online_err);

	if (o->sigbus) {
		signal(SIGBUS, SIG_DFL);
		g_sim = NULL;
	}
	close(s->uffd);
	munmap(s->to, s->to_len);
	munmap(s->from, s->heap);
	munmap(s->coll.fresh_page, s->pg);
	munmap(s->hand.fresh_page, s->pg);
	pthread_barrier_destroy(&s->start);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->pool);
	free(s->obj_off);
	free(s->live);
	free(s->exp_ref);
	free(s->exp_counter);
	free(s->pstate);
	free(s->src_lo);
	free(s->src_hi);
	free(s->need);
	free(s->from_first);
	free(s->deferred);
}

/* ------------------------------------------------------------------ */
/* output                                                              */

static const char *mode_name(int move)
{
	return move ? "move" : "copy";
}

static void print_result(const struct opts *o, const struct result *r, int rep)
{
	int ok = !r->mismatches && !r->online_err && !r->anomalies;

	if (o->kv) {
		printf("workload=gcsim mode=%s heap_bytes=%" PRIu64 " heap_mib=%.0f "
		       "live_ratio=%.2f obj_min=%u obj_max=%u threads=%d seed=%" PRIu64
		       " recycle=%d fault_mode=%s rep=%d objects=%u live_objects=%u"
		       " live_bytes=%" PRIu64
		       " copy_scratch=%s from_thp_kb=%ld pages=%" PRIu64 " compaction_ms=%.3f ns_per_page=%.0f"
		       " release_ms=%.3f"
		       " installed_by_collector=%" PRIu64 " installed_by_handler=%" PRIu64
		       " faults=%" PRIu64 " wakes=%" PRIu64 " helped=%" PRIu64
		       " eexist=%" PRIu64 " eagain=%" PRIu64 " ebusy=%" PRIu64
		       " events=%" PRIu64 " remove_events_raised=%" PRIu64
		       " recycled=%" PRIu64 " fresh=%" PRIu64 " mutator_ops=%" PRIu64
		       " mutator_faults=%" PRIu64 " lat_samples=%" PRIu64
		       " lat_median_us=%.1f lat_p99_us=%.1f refs_checked=%" PRIu64
		       " mismatches=%" PRIu64 " kernel_anomalies=%" PRIu64
		       " cpu_collector_ms=%.3f cpu_handler_ms=%.3f cpu_mutators_ms=%.3f"
		       " csw_collector=%ld/%ld csw_handler=%ld/%ld csw_mutators=%ld/%ld"
		       " verify=%s\n",
		       mode_name(r->move), o->heap, o->heap / 1048576.0, o->live_ratio,
		       o->obj_min, o->obj_max, o->threads, o->seed,
		       r->move ? o->recycle : 0, o->sigbus ? "sigbus" : "thread", rep,
		       r->nobj, r->nlive, r->live_bytes,
		       o->copy_reuse ? "reuse" : "dontneed", r->from_thp_kb, r->pages, r->ms,
		       r->ms * 1e6 / (r->pages ? r->pages : 1), r->release_ms,
		       r->coll_inst, r->hand_inst, r->faults, r->wakes, r->helped,
		       r->eexist, r->eagain, r->ebusy, r->events, r->disturbs,
		       r->recycled, r->fresh, r->ops,
		       r->mfaults, r->nlat, r->lat_med_us, r->lat_p99_us,
		       r->refs_checked, r->mismatches + r->online_err, r->anomalies,
		       r->cpu_coll.cpu_ns / 1e6, r->cpu_hand.cpu_ns / 1e6,
		       r->cpu_mut.cpu_ns / 1e6, r->cpu_coll.vcsw, r->cpu_coll.ivcsw,
		       r->cpu_hand.vcsw, r->cpu_hand.ivcsw, r->cpu_mut.vcsw,
		       r->cpu_mut.ivcsw, ok ? "ok" : "FAILED");
		fflush(stdout);
		return;
	}
	if (o->quiet)
		return;
	printf("mode %s%s (run %d): %u objects, %u live (%.1f%% of the heap), "
	       "%" PRIu64 " to-space pages", mode_name(r->move),
	       r->move && !o->recycle ? " without recycling" : "", rep, r->nobj,
	       r->nlive, 100.0 * r->live_bytes / o->heap, r->pages);
	if (o->thp)
		printf(", from-space %ld kB in huge pages", r->from_thp_kb);
	printf("\n");
	printf("  compaction time     : %.2f ms (%.0f ns/page); from-space release "
	       "%.2f ms\n", r->ms, r->ms * 1e6 / (r->pages ? r->pages : 1),
	       r->release_ms);
	printf("  pages installed     : %" PRIu64 " by the collector, %" PRIu64
	       " by %s; %" PRIu64 " lost races (EEXIST), %" PRIu64
	       " EAGAIN retries, %" PRIu64 " EBUSY copy fallbacks\n",
	       r->coll_inst, r->hand_inst,
	       o->sigbus ? "faulting mutators (SIGBUS)" : "the fault handler",
	       r->eexist, r->eagain, r->ebusy);
	printf("  faults served       : %" PRIu64 " (%" PRIu64 " already installed, "
	       "%" PRIu64 " helped the collector)\n", r->faults, r->wakes, r->helped);
	if (o->eagain_stress)
		printf("  eagain stress       : %" PRIu64 " REMOVE events raised, %"
		       PRIu64 " read by the handler\n", r->disturbs, r->events);
	printf("  scratch pages       : %" PRIu64 " recycled from-space pages, %"
	       PRIu64 " fresh\n", r->recycled, r->fresh);
	printf("  mutators            : %" PRIu64 " operations, %" PRIu64
	       " faulting accesses, latency median %.1f us, p99 %.1f us\n",
	       r->ops, r->mfaults, r->lat_med_us, r->lat_p99_us);
	printf("  verification        : %s (%u objects, %" PRIu64 " references",
	       ok ? "OK" : "FAILED", r->nlive, r->refs_checked);
	if (!ok)
		printf(", %" PRIu64 " mismatches, %" PRIu64 " kernel anomalies",
		       r->mismatches + r->online_err, r->anomalies);
	printf(")\n");
	fflush(stdout);
}

static double median_ms(struct result *r, int n)
{
	double v[256];
	int i, j;

	for (i = 0; i < n; i++)
		v[i] = r[i].ms;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [options]\n"
"Concurrent compacting-GC workload for userfaultfd UFFDIO_MOVE vs UFFDIO_COPY.\n"
"\n"
"  -H, --heap SIZE        heap (from-space) size, suffix K/M/G (default 16M)\n"
"  -l, --live RATIO       fraction of objects that are live, 0 < RATIO <= 1\n"
"                         (default 0.5)\n"
"  -s, --obj-size MIN-MAX object sizes in bytes, multiples of 8 rounded up,\n"
"                         %d <= MIN <= MAX <= 1M (default 24-2048; skewed to\n"
"                         small sizes)\n"
"  -t, --threads N        mutator threads, 0..%d (default 2)\n"
"  -m, --mode MODE        move, copy or both (default both)\n"
"  -S, --seed N           heap and mutator random seed (default 1)\n"
"  -r, --reps N           runs per mode, interleaved (default 1, max 50)\n"
"      --no-recycle       move mode: never reuse from-space pages as scratch\n"
"                         pages (the kernel must allocate each one)\n"
"      --copy-scratch M   copy mode: 'dontneed' (default) gives each scratch\n"
"                         page back with MADV_DONTNEED after UFFDIO_COPY;\n"
"                         'reuse' keeps reusing it\n"
"      --thp              back the from-space with transparent huge pages\n"
"                         (MADV_HUGEPAGE): recycled scratch pages are then\n"
"                         parts of huge pages, split by the kernel on MOVE\n"
"      --eagain-stress    during compaction, a thread keeps raising\n"
"                         UFFD_EVENT_REMOVE (MADV_DONTNEED on registered pages\n"
"                         past the heap), so installs meet EAGAIN and retry\n"
"  -W, --watchdog SEC     give up (status 3, with a diagnosis) when one\n"
"                         compaction takes longer (default 300, 0: never)\n"
"  -F, --fault-mode M     who serves mutator faults: 'thread' (default), a\n"
"                         handler thread reading the userfaultfd, or 'sigbus'\n"
"                         (UFFD_FEATURE_SIGBUS): the faulting mutator builds\n"
"                         and installs the page in its signal handler, as ART\n"
"                         does\n"
"      --kv               machine-readable output: one key=value line per run\n"
"                         and a ratio line\n"
"  -q, --quiet            only print the summary\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 all checks passed, 1 verification failed, 2 bad usage,\n"
"3 system error (no userfaultfd, mmap failure...). Without UFFD_FEATURE_MOVE\n"
"the move mode is skipped with a notice and the exit status stays 0.\n",
		prog, HDR_SIZE, MAX_THREADS);
}

static int parse_u64(const char *s, uint64_t *v, int suffix)
{
	char *e;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &e, 0);
	if (errno || e == s)
		return -1;
	if (suffix && *e) {
		uint64_t mul;

		switch (*e) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: return -1;
		}
		e++;
		if (*e == 'i' && e[1] == 'B')
			e += 2;
		else if (*e == 'B')
			e++;
		if (x > UINT64_MAX / mul)
			return -1;
		x *= mul;
	}
	if (*e)
		return -1;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "heap", required_argument, 0, 'H' },
		{ "live", required_argument, 0, 'l' },
		{ "obj-size", required_argument, 0, 's' },
		{ "threads", required_argument, 0, 't' },
		{ "mode", required_argument, 0, 'm' },
		{ "seed", required_argument, 0, 'S' },
		{ "reps", required_argument, 0, 'r' },
		{ "no-recycle", no_argument, 0, 'N' },
		{ "fault-mode", required_argument, 0, 'F' },
		{ "copy-scratch", required_argument, 0, 'P' },
		{ "thp", no_argument, 0, 'T' },
		{ "eagain-stress", no_argument, 0, 'E' },
		{ "watchdog", required_argument, 0, 'W' },
		{ "kv", no_argument, 0, 'K' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ "self-test-corrupt", no_argument, 0, 'C' },
		{ "assume-no-move", no_argument, 0, 'A' },
		{ 0, 0, 0, 0 },
	};
	struct opts o = {
		.heap = 16ull << 20, .live_ratio = 0.5, .obj_min = 24,
		.obj_max = 2048, .threads = 2, .modes = 3, .seed = 1,
		.recycle = 1, .reps = 1, .watchdog = 300,
	};
	uint64_t v;
	int c, status = 0;

	if (argv[0] && *argv[0]) {
		const char *b = strrchr(argv[0], '/');

		prog = b ? b + 1 : argv[0];
	}
	while ((c = getopt_long(argc, argv, "H:l:s:t:m:S:r:F:W:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (parse_u64(optarg, &v, 1) || v < (64ull << 10) ||
			    v > (64ull << 30))
				usage_error("bad --heap '%s': want a size from 64K to 64G, "
					"e.g. 16M", optarg);
			o.heap = v;
			break;
		case 'l': {
			char *e;
			double d;

			errno = 0;
			d = strtod(optarg, &e);
			if (errno || e == optarg || *e || !(d > 0 && d <= 1))
				usage_error("bad --live '%s': want a ratio in (0, 1]", optarg);
			o.live_ratio = d;
			break;
		}
		case 's': {
			char *dash = strchr(optarg, '-');
			uint64_t lo, hi;
			char buf[64];

			if (!dash || dash - optarg >= (long)sizeof(buf))
				usage_error("bad --obj-size '%s': want MIN-MAX, e.g. 24-2048",
					optarg);
			memcpy(buf, optarg, dash - optarg);
			buf[dash - optarg] = 0;
			if (parse_u64(buf, &lo, 1) || parse_u64(dash + 1, &hi, 1) ||
			    lo < HDR_SIZE || hi < lo || hi > (1u << 20))
				usage_error("bad --obj-size '%s': want MIN-MAX with "
					"24 <= MIN <= MAX <= 1M", optarg);
			o.obj_min = (uint32_t)((lo + 7) & ~7ull);
			o.obj_max = (uint32_t)((hi + 7) & ~7ull);
			break;
		}
		case 't':
			if (parse_u64(optarg, &v, 0) || v > MAX_THREADS)
				usage_error("bad --threads '%s': want 0 to 64", optarg);
			o.threads = (int)v;
			break;
		case 'm':
			if (!strcmp(optarg, "move"))
				o.modes = 2;
			else if (!strcmp(optarg, "copy"))
				o.modes = 1;
			else if (!strcmp(optarg, "both"))
				o.modes = 3;
			else
				usage_error("bad --mode '%s': want move, copy or both", optarg);
			break;
		case 'S':
			if (parse_u64(optarg, &v, 0))
				usage_error("bad --seed '%s': want a non-negative integer",
					optarg);
			o.seed = v;
			break;
		case 'r':
			if (parse_u64(optarg, &v, 0) || v < 1 || v > 50)
				usage_error("bad --reps '%s': want 1 to 50", optarg);
			o.reps = (int)v;
			break;
		case 'N':
			o.recycle = 0;
			break;
		case 'T':
			o.thp = 1;
			break;
		case 'E':
			o.eagain_stress = 1;
			break;
		case 'W':
			if (parse_u64(optarg, &v, 0) || v > 86400)
				usage_error("bad --watchdog '%s': want seconds, 0 to 86400",
					optarg);
			o.watchdog = (int)v;
			break;
		case 'P':
			if (!strcmp(optarg, "dontneed"))
				o.copy_reuse = 0;
			else if (!strcmp(optarg, "reuse"))
				o.copy_reuse = 1;
			else
				usage_error("bad --copy-scratch '%s': want dontneed or reuse",
					optarg);
			break;
		case 'F':
			if (!strcmp(optarg, "thread"))
				o.sigbus = 0;
			else if (!strcmp(optarg, "sigbus"))
				o.sigbus = 1;
			else
				usage_error("bad --fault-mode '%s': want thread or sigbus", optarg);
			break;
		case 'K':
			o.kv = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'C':
			o.corrupt = 1;
			break;
		case 'A':
			o.no_move = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			try_help();
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o.obj_max > o.heap / 2)
		usage_error("--obj-size maximum must be at most half the heap (%s)",
			"use a bigger --heap");

	uint64_t feat = uffd_features();

	if (o.sigbus && !(feat & UFFD_FEATURE_SIGBUS))
		die(3, "--fault-mode sigbus: the kernel lacks UFFD_FEATURE_SIGBUS");
	int have_move = !!(feat & UFFD_FEATURE_MOVE);

	if (o.no_move) {
		feat &= ~(uint64_t)UFFD_FEATURE_MOVE;
		have_move = 0;
	}
	struct utsname u;
	uint64_t res = measure_clock_res();

	uname(&u);
	if (res > 1000)
		fprintf(stderr, "%s: warning: CLOCK_MONOTONIC only ticks every %.3f ms "
			"(no high-resolution clocksource?): fault latencies are "
			"meaningless, compaction times are +-%.0f ms\n", prog,
			res / 1e6, res / 1e6);
	if (!have_move && (o.modes & 2)) {
		printf("%s: this kernel (%s) lacks UFFDIO_MOVE (UFFD_FEATURE_MOVE "
		       "not reported by UFFDIO_API, features=%#" PRIx64 "): "
		       "running copy mode only\n", o.kv ? "# notice" : prog,
		       u.release, feat);
		o.modes = 1;
	}
	if (!o.kv && !o.quiet)
		printf("gcsim: kernel %s, UFFD_FEATURE_MOVE %s; heap %.1f MiB, live "
		       "%.2f, objects %u-%u bytes, %d mutators, seed %" PRIu64 "\n",
		       u.release, have_move ? "yes" : "no", o.heap / 1048576.0,
		       o.live_ratio, o.obj_min, o.obj_max, o.threads, o.seed);
	else if (o.kv)
		printf("# workload=gcsim kernel=%s uffd_move=%d clock_res_ns=%" PRIu64 "\n",
		       u.release, have_move, res);

	struct result *rc = xcalloc(o.reps, sizeof(*rc));
	struct result *rm = xcalloc(o.reps, sizeof(*rm));
	for (int rep = 0; rep < o.reps; rep++) {
		if (o.modes & 1) {
			run_once(&o, 0, &rc[rep]);
			print_result(&o, &rc[rep], rep + 1);
			if (rc[rep].mismatches || rc[rep].online_err || rc[rep].anomalies)
				status = 1;
		}
		if (o.modes & 2) {
			run_once(&o, 1, &rm[rep]);
			print_result(&o, &rm[rep], rep + 1);
			if (rm[rep].mismatches || rm[rep].online_err || rm[rep].anomalies)
				status = 1;
		}
	}

	double mc = (o.modes & 1) ? median_ms(rc, o.reps) : 0;
	double mm = (o.modes & 2) ? median_ms(rm, o.reps) : 0;
	if (o.kv) {
		printf("workload=gcsim mode=summary heap_mib=%.0f reps=%d",
		       o.heap / 1048576.0, o.reps);
		if (o.modes & 1)
			printf(" copy_ms_median=%.3f", mc);
		if (o.modes & 2)
			printf(" move_ms_median=%.3f", mm);
		if (o.modes == 3 && mc > 0)
			printf(" move_over_copy=%.3f", mm / mc);
		printf(" verify=%s\n", status ? "FAILED" : "ok");
	} else {
		printf("summary: heap %.1f MiB, %d run(s) per mode:", o.heap / 1048576.0,
		       o.reps);
		if (o.modes & 1)
			printf(" copy %.2f ms", mc);
		if (o.modes & 2)
			printf("%s move %.2f ms", o.modes & 1 ? "," : "", mm);
		if (o.modes == 3 && mc > 0)
			printf(", MOVE/COPY compaction time %.3f (%.0f%% %s)", mm / mc,
			       100.0 * (mm <= mc ? 1 - mm / mc : mm / mc - 1),
			       mm <= mc ? "less" : "more");
		printf("; verification %s\n", status ? "FAILED" : "passed");
	}
	free(rc);
	free(rm);
	return status;
}
