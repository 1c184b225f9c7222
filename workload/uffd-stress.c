// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-stress - moves tagged pages between anonymous areas of one process
 * with UFFDIO_MOVE from several threads while other threads disturb the same
 * memory, and proves that no page was lost, duplicated or corrupted.
 *
 * Every "slot" (one page of one area) has a state in a shadow map: EMPTY
 * (nothing mapped), ZERO (reads zeros), MAYBE (scratch: content and
 * presence unknown) or DATA(id).  Page id holds a deterministic pattern
 * derived from the seed and id, its first word a tag.  Chunks of 64 slots
 * have a mutex: whoever changes a slot's state holds its chunk, so the
 * shadow is exact at quiescent points, where all chunks are held and every
 * slot is checked by content and by /proc/self/pagemap.
 *
 * Errnos are checked against the contract (../../shared/uffdio-move.md):
 * a mover only moves runs whose source it knows full and destination
 * empty, so ENOENT/EEXIST/EINVAL are failures; EAGAIN resumes after the
 * bytes done; EBUSY is accepted only where a page may be shared (fork,
 * KSM scratch) or in the swap cache, and the page is then made exclusive.
 *
 * The last line is "N passed, N failed".  Exit status 0 all passed, 1 a
 * check failed, 2 usage, 3 system error, 4 skipped (no UFFD_FEATURE_MOVE).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static const char *prog = "uffd-stress";

#include "uffd-util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* ------------------------------------------------------------------ */
/* options                                                             */

enum { D_READ, D_FORK, D_MADV, D_PAGEOUT, D_MPROTECT, D_MLOCK, D_COLLAPSE,
       D_COMPACT, D_KSM, D_PROC, D_WRITER, ND };
static const char *dnames[ND] = {
	"read", "fork", "madvise", "pageout", "mprotect", "mlock", "collapse",
	"compact", "ksm", "proc", "writer",
};

static struct {
	uint64_t seed;
	long pages_goal;	/* stop after moving this many pages (0: none) */
	double seconds;		/* stop after this long (0: none) */
	int areas;
	int lanes;
	long area_mb;
	int movers;
	int readers;
	unsigned disturb;	/* bit per D_* */
	double verify_every;
	const char *inject;
	int verbose;
} opt = {
	.seed = 1, .areas = 4, .lanes = 2, .area_mb = 8, .movers = 3, .readers = 2,
	.disturb = (1u << ND) - 1, .verify_every = 20,
};

static void usage(void)
{
	printf(
"usage: uffd-stress [options]\n"
"Moves tagged pages between anonymous areas with UFFDIO_MOVE from several\n"
"threads while others disturb the memory; verifies every page at quiescent\n"
"points and at the end. Last line: \"N passed, N failed\".\n\n"
"  --seed N          seed of every random choice (default 1)\n"
"  --pages N         stop once N pages have moved (default: none)\n"
"  --seconds S       stop after S seconds (default 10 if no --pages)\n"
"                    with both, whichever comes first; missing the page\n"
"                    goal is a failure\n"
"  --areas N         anonymous areas (default 4)\n"
"  --area-mb N       size of each area in MiB (default 8)\n"
"  --lanes N         more areas where only whole THP-sized regions move,\n"
"                    full to empty (PMD moves; most of the volume) (2)\n"
"  --movers N        mover threads (default 3)\n"
"  --readers N       reader threads, faulting on pages in transit (2)\n"
"  --disturb LIST    disturbers to run, comma-separated, or 'all'/'none'\n"
"                    (default all): read fork madvise pageout mprotect\n"
"                    mlock collapse compact ksm proc writer\n"
"                      read: readers touch random slots; missing faults\n"
"                            are served through the userfaultfd\n"
"                      fork: fork(); the child checks its copy; moves of\n"
"                            the shared pages must give EBUSY\n"
"                      madvise: scratch/zero pages made and dropped with\n"
"                            UFFDIO_COPY/ZEROPAGE, MADV_FREE, MADV_DONTNEED\n"
"                      pageout: MADV_PAGEOUT and MADV_COLD (swap)\n"
"                      mprotect, mlock: split a range's VMA and restore it\n"
"                      collapse: MADV_COLLAPSE of random 2 MiB ranges\n"
"                      compact: writes /proc/sys/vm/compact_memory\n"
"                      ksm: MADV_MERGEABLE and ksmd running (if present)\n"
"                      proc: reads /proc/self/smaps and pagemap\n"
"                      writer: mmap+munmap pairs, latency reported\n"
"  --verify-every S  quiescent verification period (default 20 s)\n"
"  --inject KIND     before the final check, corrupt|drop|dup one page\n"
"                    behind the shadow map's back: the run must report\n"
"                    exactly that (1 failed)\n"
"  -v, --verbose     progress lines\n"
"  -h, --help        this text\n");
}

/* ------------------------------------------------------------------ */
/* the areas and the shadow map                                        */

#define S_EMPTY	0u
#define S_ZERO	1u
#define S_MAYBE	2u
#define S_DATA	0x80000000u
#define CHUNK	64		/* slots per lock */
#define TAG_HI 0x53545253ull		/* "STRS" */
#define SCRATCH_BYTE 0x5a

static long ps, pmd_pages, pt_pages;	/* page, THP and page-table spans */
static int have_thp;
static long area_pages, nslots, nregions, nids;
static long reg_slots, reg_regions;	/* the areas other than the lanes */
static int nareas;			/* areas + lanes */
static char **area;
static uint32_t *shadow;
static uint8_t *shared;			/* maybe shared with a fork child */
static pthread_mutex_t *locks;
static long nchunks;
static int uffd, pagemap_fd, reference_kernel;
static uint64_t content_seed;
static volatile int stop, handler_stop;
static long n_extra;			/* ZERO + MAYBE slots */

static char *slot_addr(long s)
{
	return area[s / area_pages] + (s % area_pages) * ps;
}

static long addr_slot(uintptr_t a)
{
	for (int i = 0; i < nareas; i++)
		if (a >= (uintptr_t)area[i] &&
		    a < (uintptr_t)area[i] + area_pages * ps)
			return i * area_pages + (a - (uintptr_t)area[i]) / ps;
	return -1;
}

static uint32_t state(long s)
{
	return __atomic_load_n(&shadow[s], __ATOMIC_RELAXED);
}

static int is_extra(uint32_t st)
{
	return st == S_ZERO || st == S_MAYBE;
}

/* The only writer of the shadow map (callers hold the slot's chunk). */
static void set_state(long s, uint32_t st)
{
	uint32_t old = state(s);

	if (is_extra(old))
		__atomic_sub_fetch(&n_extra, 1, __ATOMIC_RELAXED);
	if (is_extra(st))
		__atomic_add_fetch(&n_extra, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&shadow[s], st, __ATOMIC_RELAXED);
}

static uint64_t page_word(uint32_t id, long i)
{
	if (i == 0)
		return TAG_HI << 32 | id;
	return splitmix(content_seed ^ ((uint64_t)id << 20) ^ (uint64_t)i);
}

static void fill_page(char *p, uint32_t id)
{
	uint64_t *w = (uint64_t *)p;

	for (long i = 0; i < ps / 8; i++)
		w[i] = page_word(id, i);
}

/* index of the first word of p that differs from page id's, -1 if none */
static long check_page(const char *p, uint32_t id)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;

	for (long i = 0; i < ps / 8; i++)
		if (w[i] != page_word(id, i))
			return i;
	return -1;
}

/* the id a tag word names, -1 if it is no tag */
static long tag_id(uint64_t w)
{
	if (w >> 32 != TAG_HI || (w & 0xffffffff) >= (uint64_t)nids)
		return -1;
	return (long)(w & 0xffffffff);
}

static int page_is_zero(const char *p)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;

	for (long i = 0; i < ps / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* pagemap                                                             */

#define PM_PRESENT (1ull << 63)
#define PM_SWAP    (1ull << 62)
#define PM_PFN     ((1ull << 55) - 1)

static uint64_t pagemap(long s)
{
	uint64_t e = 0;
	off_t off = (uintptr_t)slot_addr(s) / ps * 8;

	if (pread(pagemap_fd, &e, 8, off) != 8)
		die(3, "pagemap: %s", strerror(errno));
	return e;
}

/* mapped (present or a swap/migration entry): reading it never faults
 * into the userfaultfd */
static int mapped(long s)
{
	return (pagemap(s) & (PM_PRESENT | PM_SWAP)) != 0;
}

/* ------------------------------------------------------------------ */
/* failures and counters                                               */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static long n_errno_fail, n_verify_fail, n_reader_fail, n_fork_fail,
	    n_reference_bug, n_stall_swap, n_printed;

static __attribute__((format(printf, 2, 3)))
void fail(long *counter, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	(*counter)++;
	if (n_printed++ < 40) {
		va_start(ap, fmt);
		printf("# FAIL: ");
		vprintf(fmt, ap);
		printf("\n");
		fflush(stdout);
		va_end(ap);
	}
	pthread_mutex_unlock(&fail_lock);
}

static __attribute__((format(printf, 1, 2))) void note(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	pthread_mutex_unlock(&fail_lock);
}

static struct {
	long calls, pages, zero_pages, scratch_pages, holes, thp_moves,
	     thp_tries, lane_moves, runs, cross, shifts, eagain, eagain_progress,
	     ebusy_shared, ebusy_scratch, ebusy_swap, faults, zeropages,
	     forks, children_ok, reads, collapses, pageouts, mprotects,
	     mlocks, compactions, verifications, madvises;
} st;

static void add(long *c, long n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A disturber acts once the movers have made `every` calls since its
 * last turn, and min_ms have passed: the disturbance stays proportional
 * to the moves, natively as under TCG. */
static void pace(long *last, long every, long min_ms)
{
	for (long t = 0; t < min_ms && !stop; t += 20)
		sleep_ms(min_ms - t < 20 ? min_ms - t : 20);
	while (!stop && __atomic_load_n(&st.calls, __ATOMIC_RELAXED) - *last <
	       every)
		sleep_ms(5);
	*last = __atomic_load_n(&st.calls, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* chunk locks                                                         */

struct span {
	long chunk[64];
	int n;
};

static void span_add(struct span *sp, long first_slot, long nslot)
{
	for (long c = first_slot / CHUNK; c <= (first_slot + nslot - 1) / CHUNK;
	     c++) {
		int i = 0;

		while (i < sp->n && sp->chunk[i] < c)
			i++;
		if (i < sp->n && sp->chunk[i] == c)
			continue;
		if (sp->n == 64)
			die(3, "span too large");
		memmove(&sp->chunk[i + 1], &sp->chunk[i],
			(sp->n - i) * sizeof(long));
		sp->chunk[i] = c;
		sp->n++;
	}
}

static void span_unlock(struct span *sp, int upto)
{
	for (int i = 0; i < upto; i++)
		pthread_mutex_unlock(&locks[sp->chunk[i]]);
}

/* all chunks of the span or none; never blocks */
static int span_trylock(struct span *sp)
{
	for (int i = 0; i < sp->n; i++)
		if (pthread_mutex_trylock(&locks[sp->chunk[i]])) {
			span_unlock(sp, i);
			return 0;
		}
	return 1;
}

/* Blocking, in ascending order (every blocking locker takes this order or
 * a single chunk; the others only try).  Taking the lanes first was
 * tried: the areas' trylocking movers then starve the blocked locker while
 * it holds the lanes, and the volume drops fivefold under TCG. */
static void lock_all(void)
{
	for (long c = 0; c < nchunks; c++)
		pthread_mutex_lock(&locks[c]);
}

static void unlock_all(void)
{
	for (long c = 0; c < nchunks; c++)
		pthread_mutex_unlock(&locks[c]);
}

/* ------------------------------------------------------------------ */
/* userfaultfd helpers                                                 */

static int uffd_zeropage(long s)
{
	struct uffdio_zeropage z = {
		.range = { (uintptr_t)slot_addr(s), ps },
	};

	return ioctl(uffd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
}

static int uffd_copy(long s, const void *from)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)slot_addr(s), .src = (uintptr_t)from,
		.len = ps,
	};

	return ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
}

static void uffd_wake(long s)
{
	struct uffdio_range r = { (uintptr_t)slot_addr(s), ps };

	ioctl(uffd, UFFDIO_WAKE, &r);
}

/* ------------------------------------------------------------------ */
/* moving                                                              */

struct mover {
	uint64_t rng;
	int id;
};

static int pageout_on(void)
{
	return opt.disturb & (1u << D_PAGEOUT);
}

static const char *state_name(uint32_t s, char *buf)
{
	if (s & S_DATA)
		sprintf(buf, "page %u", s & ~S_DATA);
	else
		strcpy(buf, s == S_EMPTY ? "empty" : s == S_ZERO ? "zero" :
		       "scratch");
	return buf;
}

/* Shadow update for k pages moved from s to d (ascending, so a downward
 * overlapping shift is right too). */
static void commit(long s, long d, long k)
{
	for (long i = 0; i < k; i++) {
		uint32_t x = state(s + i);

		set_state(d + i, x);
		shared[d + i] = 0;
		if (s + i != d + i)
			set_state(s + i, S_EMPTY);
		if (x & S_DATA)
			add(&st.pages, 1);
		else if (x == S_ZERO)
			add(&st.zero_pages, 1), add(&st.pages, 1);
		else if (x == S_MAYBE)
			add(&st.scratch_pages, 1), add(&st.pages, 1);
		else
			add(&st.holes, 1);
	}
}

/* Does the state x fit slot j as pagemap and its tag show it? */
static int slot_fits(long j, uint32_t x)
{
	int m = mapped(j);

	if (x & S_DATA)
		return m && tag_id(*(volatile uint64_t *)slot_addr(j)) ==
			    (long)(x & ~S_DATA);
	if (x == S_ZERO)
		return m;
	return x == S_MAYBE || !m;
}

/* After a call whose result we doubt: how many leading pages of the
 * n-page move s -> d really moved?  Each possible count is played on a
 * copy of the shadow (overlaps too) and compared with pagemap and tags;
 * *mixed is set if none fits. */
static long real_progress(long s, long d, long n, int *mixed)
{
	long lo = s < d ? s : d, w = (s < d ? d : s) + n - lo;
	uint32_t *sim = malloc(w * sizeof(*sim));

	*mixed = 0;
	for (long k = n; k >= 0; k--) {
		long j;

		for (j = 0; j < w; j++)
			sim[j] = state(lo + j);
		for (long i = 0; i < k; i++) {
			sim[d + i - lo] = sim[s + i - lo];
			if (s != d)
				sim[s + i - lo] = S_EMPTY;
		}
		for (j = 0; j < w; j++) {
			long x = lo + j;

			if (((x >= s && x < s + n) || (x >= d && x < d + n)) &&
			    !slot_fits(x, sim[j]))
				break;
		}
		if (j == w) {
			free(sim);
			return k;
		}
	}
	free(sim);
	*mixed = 1;
	return 0;
}

static void describe_run(char *buf, size_t len, long s, long d, long n)
{
	char a[32], b[32];

	snprintf(buf, len, "move %ld page(s) %p (slot %ld, %s) -> %p (slot %ld,"
		 " %s)", n, slot_addr(s), s, state_name(state(s), a),
		 slot_addr(d), d, state_name(state(d), b));
}

/* An unexpected result: find out what really happened, keep the shadow
 * true and report it (a failure on our kernel; on the reference kernel a
 * known bug if the pages did move). Returns pages really moved. */
static long unexpected(long s, long d, long n, int err, long long moveval)
{
	char what[200];
	int mixed;
	long k = real_progress(s, d, n, &mixed);

	describe_run(what, sizeof(what), s, d, n);
	if (mixed) {
		fail(&n_errno_fail, "%s: %s (move=%lld), and the pages are "
		     "neither moved nor in place", what, strerror(err),
		     moveval);
		for (long i = 0; i < n; i++) {
			set_state(s + i, mapped(s + i) ? S_MAYBE : S_EMPTY);
			set_state(d + i, mapped(d + i) ? S_MAYBE : S_EMPTY);
		}
		return 0;
	}
	if (reference_kernel && err == EEXIST && k > 0)
		add(&n_reference_bug, 1);
	else
		fail(&n_errno_fail, "%s: %s (move=%lld); %ld page(s) really "
		     "moved; pagemap src %#llx dst %#llx", what,
		     err ? strerror(err) : "success", moveval, k,
		     (unsigned long long)pagemap(s),
		     (unsigned long long)pagemap(d));
	commit(s, d, k);
	return k;
}

/* Make the page at slot s exclusive again after EBUSY: write its first
 * word (breaks COW after fork or KSM), or drop a scratch page. */
static void make_exclusive(long s)
{
	volatile uint64_t *w = (volatile uint64_t *)slot_addr(s);

	if (state(s) == S_MAYBE) {
		madvise(slot_addr(s), ps, MADV_DONTNEED);
		set_state(s, S_EMPTY);
	} else if (mapped(s)) {
		*w = *w;
	}
	shared[s] = 0;
}

/* the longest UFFDIO_MOVE call: it held mmap_lock that long */
static uint64_t call_max_ns;
static long call_max_pages;
static int call_max_err;

static void note_call(uint64_t dt, long pages, int err)
{
	pthread_mutex_lock(&fail_lock);
	if (dt > call_max_ns) {
		call_max_ns = dt;
		call_max_pages = pages;
		call_max_err = err;
	}
	pthread_mutex_unlock(&fail_lock);
}

/* Read back the swapped-out pages of a run: a large folio in the swap
 * cache (our series says EAGAIN after its retry budget, upstream EBUSY)
 * would otherwise stop the move once for each of its pages. */
static void swap_in(long s, long n)
{
	for (long i = 0; i < n; i++)
		if (state(s + i) & S_DATA && pagemap(s + i) & PM_SWAP)
			(void)*(volatile uint64_t *)slot_addr(s + i);
}

/* A move that spun its retry budget on a swap entry, then said EAGAIN. */
static void stalled(long s, uint64_t dt)
{
	add(&n_stall_swap, 1);
	note("move stopped at swap entry %p after %.1f ms with EAGAIN (a "
	     "large swap-cache folio must give EBUSY at once)", slot_addr(s),
	     dt / 1e6);
}

/* Move n slots s -> d (locks held, states checked).  Returns pages moved
 * (all of them unless the contract was broken). */
static long do_move(struct mover *m, long s, long d, long n, int holes)
{
	long done = 0, stuck = 0;

	while (done < n && !(stop && stuck)) {
		struct uffdio_move mv = {
			.dst = (uintptr_t)slot_addr(d + done),
			.src = (uintptr_t)slot_addr(s + done),
			.len = (n - done) * ps,
			.mode = (holes ? UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES : 0) |
				(rnd(&m->rng) % 4 == 0 ?
				 UFFDIO_MOVE_MODE_DONTWAKE : 0),
			.move = 0x5a5a5a5a,
		};
		uint64_t t0 = now_ns();
		int r = ioctl(uffd, UFFDIO_MOVE, &mv), err = r ? errno : 0;
		uint64_t dt = now_ns() - t0;
		long k;

		add(&st.calls, 1);
		note_call(dt, mv.len / ps, r ? err : 0);
		if (r == 0) {
			if (mv.move != (long long)mv.len) {
				done += unexpected(s + done, d + done,
						   n - done, 0, mv.move);
				return done;
			}
			commit(s + done, d + done, n - done);
			return n;
		}
		if (err == EAGAIN && (mv.move == -EAGAIN || (mv.move >= 0 &&
		    mv.move < (long long)mv.len && mv.move % ps == 0))) {
			add(&st.eagain, 1);
			k = mv.move > 0 ? mv.move / ps : 0;
			if (!k && dt > 45000000 && (pagemap(s + done) & PM_SWAP))
				stalled(s + done, dt);
			if (k) {
				add(&st.eagain_progress, 1);
				commit(s + done, d + done, k);
				done += k;
				stuck = 0;
				continue;
			}
			if (pagemap(s + done) & PM_SWAP)
				swap_in(s + done, n - done);
			else if (++stuck > 3)	/* migration entry, lock */
				(void)*(volatile uint64_t *)slot_addr(s + done);
			if (stuck > 2000) {
				fail(&n_errno_fail, "move %p -> %p: EAGAIN "
				     "without progress 2000 times",
				     slot_addr(s + done), slot_addr(d + done));
				return done;
			}
			continue;
		}
		if (err == EBUSY && mv.move == -EBUSY) {
			uint32_t x = state(s + done);

			if (shared[s + done])
				add(&st.ebusy_shared, 1);
			else if (x == S_MAYBE)
				add(&st.ebusy_scratch, 1);
			else if (pageout_on() || (pagemap(s + done) & PM_SWAP))
				add(&st.ebusy_swap, 1);
			else {
				char what[200];

				describe_run(what, sizeof(what), s + done,
					     d + done, n - done);
				fail(&n_errno_fail, "%s: EBUSY on an exclusive "
				     "page", what);
			}
			make_exclusive(s + done);
			if (++stuck > 2000)
				return done;
			continue;
		}
		done += unexpected(s + done, d + done, n - done, err, mv.move);
		return done;
	}
	return done;
}

/* ------------------------------------------------------------------ */
/* choosing what to move                                               */

static int src_ok(uint32_t x)
{
	return (x & S_DATA) || x == S_ZERO;
}

/* a slot of the areas (not of the lanes) */
static long rnd_slot(struct mover *m)
{
	return rnd(&m->rng) % reg_slots;
}

/* n slots from s, all in one area, each passing pred */
static int run_is(long s, long n, int (*pred)(uint32_t))
{
	if (s < 0 || s + n > nslots || s / area_pages != (s + n - 1) / area_pages)
		return 0;
	for (long i = 0; i < n; i++)
		if (!pred(state(s + i)))
			return 0;
	return 1;
}

static int empty_ok(uint32_t x)
{
	return x == S_EMPTY;
}

static int any_ok(uint32_t x)
{
	(void)x;
	return 1;
}

/* a random start of an n-slot run passing pred, -1 if none found */
static long find_run(struct mover *m, long n, int (*pred)(uint32_t))
{
	for (int t = 0; t < 64; t++) {
		long s = rnd_slot(m);

		if (run_is(s, n, pred))
			return s;
	}
	return -1;
}

/* a run of n crossing a page-table boundary, split at a random point */
static long find_cross(struct mover *m, long n, int (*pred)(uint32_t))
{
	long per_area = area_pages / pt_pages;

	for (int t = 0; t < 64 && per_area > 1; t++) {
		long a = rnd(&m->rng) % opt.areas;
		long b = 1 + rnd(&m->rng) % (per_area - 1);
		long s = a * area_pages + b * pt_pages - 1 -
			 (long)(rnd(&m->rng) % (n - 1));

		if (run_is(s, n, pred))
			return s;
	}
	return -1;
}

/* Lock, re-check and move: the body of every operation. */
static long try_move(struct mover *m, long s, long d, long n, int holes)
{
	struct span sp = { .n = 0 };
	long done = 0;

	if (s < 0 || d < 0)
		return 0;
	span_add(&sp, s, n);
	span_add(&sp, d, n);
	if (!span_trylock(&sp))
		return 0;
	if (d < s && d + n > s) {	/* downward shift: [d, s) empty */
		if (run_is(d, s + n - d, any_ok) && run_is(d, s - d, empty_ok) &&
		    run_is(s, n, src_ok))
			done = do_move(m, s, d, n, 0);
	} else if (s < d + n && d < s + n) {
		done = 0;		/* other overlaps: not ours to test */
	} else if (run_is(s, n, holes ? any_ok : src_ok) &&
		   run_is(d, n, empty_ok)) {
		done = do_move(m, s, d, n, holes);
	}
	span_unlock(&sp, sp.n);
	return done;
}

static long region_fill(long r)
{
	long c = 0;

	for (long i = 0; i < pmd_pages; i++)
		c += (state(r * pmd_pages + i) & S_DATA) != 0;
	return c;
}

/* the region (other than but) with the least (most) data, -1 if none */
static long extreme_region(long but, int most)
{
	long best = -1, bf = most ? -1 : pmd_pages + 1;

	for (long r = 0; r < reg_regions; r++) {
		long f = region_fill(r);

		if (r != but && (most ? f > bf && f < pmd_pages :
				 f < bf && f > 0))
			best = r, bf = f;
	}
	return best;
}

/* Drop a zero or scratch slot, so the slot can be a destination. */
static void drop_extra(long s)
{
	if (!is_extra(state(s)) || pthread_mutex_trylock(&locks[s / CHUNK]))
		return;
	if (is_extra(state(s))) {
		madvise(slot_addr(s), ps, MADV_DONTNEED);
		set_state(s, S_EMPTY);
	}
	pthread_mutex_unlock(&locks[s / CHUNK]);
}

/* Move runs out of region 'from' into empty runs of region 'to' until
 * one of them has no more to give or take (a handful of calls). */
static void region_transfer(struct mover *m, long from, long to)
{
	long s = from * pmd_pages, se = s + pmd_pages;
	long d = to * pmd_pages, de = d + pmd_pages;

	while (s < se && d < de && !stop) {
		long n = 0;

		if (is_extra(state(s)))
			drop_extra(s);
		if (is_extra(state(d)))
			drop_extra(d);
		if (!src_ok(state(s))) {
			s++;
			continue;
		}
		if (state(d) != S_EMPTY) {
			d++;
			continue;
		}
		while (n < 64 && s + n < se && d + n < de &&
		       src_ok(state(s + n)) && state(d + n) == S_EMPTY)
			n++;
		if (!try_move(m, s, d, n, 0))
			return;		/* contended: another time */
		s += n;
		d += n;
	}
}

/* A whole THP-sized region full of data to an empty region; when there
 * is none of either, make one: sparse regions drain into dense ones. */
static void op_thp(struct mover *m)
{
	long r0 = rnd(&m->rng) % reg_regions, full = -1, empty = -1;

	add(&st.thp_tries, 1);
	for (long i = 0; i < reg_regions && (full < 0 || empty < 0); i++) {
		long r = (r0 + i) % reg_regions, f = region_fill(r);

		if (f == pmd_pages && full < 0 &&
		    run_is(r * pmd_pages, pmd_pages, src_ok))
			full = r;
		else if (f == 0 && empty < 0)
			empty = r;
	}
	if (full >= 0 && empty >= 0) {
		for (long i = 0; i < pmd_pages; i++)
			drop_extra(empty * pmd_pages + i);
		if (try_move(m, full * pmd_pages, empty * pmd_pages,
			     pmd_pages, 0) == pmd_pages)
			add(&st.thp_moves, 1);
	} else if (empty < 0) {
		long from = extreme_region(-1, 0);

		region_transfer(m, from, extreme_region(from, 1));
	} else {
		long to = extreme_region(-1, 1);

		region_transfer(m, extreme_region(to, 0), to);
	}
}

/* Gather: runs from the sparsest region into holes of the densest, so
 * that whole regions empty and fill again for op_thp. */
static void op_gather(struct mover *m)
{
	long sparse = -1, dense = -1, fs = pmd_pages + 1, fd = -1;
	long r0 = rnd(&m->rng) % reg_regions;

	for (long i = 0; i < reg_regions; i++) {
		long r = (r0 + i) % reg_regions, f = region_fill(r);

		if (f > 0 && f < fs)
			sparse = r, fs = f;
		if (f < pmd_pages && f > fd)
			dense = r, fd = f;
	}
	if (sparse < 0 || dense < 0 || sparse == dense)
		return;
	for (int t = 0; t < 16; t++) {
		long s = sparse * pmd_pages + rnd(&m->rng) % pmd_pages, n = 1;
		long d = dense * pmd_pages + rnd(&m->rng) % pmd_pages;

		while (s > sparse * pmd_pages && src_ok(state(s - 1)))
			s--;
		while (d > dense * pmd_pages && state(d - 1) == S_EMPTY)
			d--;
		if (!src_ok(state(s)))
			continue;
		while (n < 32 && s + n < (sparse + 1) * pmd_pages &&
		       src_ok(state(s + n)))
			n++;
		while (n > 0 && (d + n > (dense + 1) * pmd_pages ||
				 !run_is(d, n, empty_ok)))
			n--;
		if (n)
			try_move(m, s, d, n, 0);
	}
}

/* zero pages pile up where readers fault: drop some, like a GC would */
static void drop_zero(struct mover *m)
{
	long s = rnd_slot(m);

	if (state(s) != S_ZERO || pthread_mutex_trylock(&locks[s / CHUNK]))
		return;
	if (state(s) == S_ZERO) {
		madvise(slot_addr(s), ps, MADV_DONTNEED);
		set_state(s, S_EMPTY);
	}
	pthread_mutex_unlock(&locks[s / CHUNK]);
}

/* The lanes: regions there only ever move whole, full to empty, so that
 * THPs (collapsed again by the collapse disturber) move as PMDs; pageout
 * and fork reach them too. */
static void op_lane(struct mover *m)
{
	long nl = nregions - reg_regions, r0 = rnd(&m->rng) % nl;
	long full = -1, empty = -1;

	for (long i = 0; i < nl && (full < 0 || empty < 0); i++) {
		long r = reg_regions + (r0 + i) % nl, f = region_fill(r);

		if (f == pmd_pages && full < 0)
			full = r;
		else if (f == 0 && empty < 0)
			empty = r;
	}
	if (full < 0 || empty < 0)
		return;
	for (long i = 0; i < pmd_pages; i++)	/* readers' zero pages */
		drop_extra(empty * pmd_pages + i);
	if (try_move(m, full * pmd_pages, empty * pmd_pages, pmd_pages, 0) ==
	    pmd_pages)
		add(&st.lane_moves, 1);
}

enum { OP_ONE, OP_RUN, OP_CROSS, OP_SHIFT, OP_HOLES, OP_LANE, OP_THP,
       OP_GATHER, NOPS };
static const char *const op_names[NOPS] = {
	"one", "run", "cross", "shift", "holes", "lane", "thp", "gather",
};
static long op_count[NOPS], op_ns[NOPS];

static int mover_op(struct mover *m, long n)
{
	unsigned op = rnd(&m->rng) % 100;

	if (opt.lanes && op % 3 == 0) {		/* a third: whole THPs */
		op_lane(m);
		return OP_LANE;
	}
	if (op < 30) {				/* one page */
		try_move(m, find_run(m, 1, src_ok), find_run(m, 1, empty_ok),
			 1, 0);
		return OP_ONE;
	}
	if (op < 45) {				/* a run */
		add(&st.runs, 1);
		try_move(m, find_run(m, n, src_ok), find_run(m, n, empty_ok),
			 n, 0);
		return OP_RUN;
	}
	if (op < 62) {				/* crossing page tables */
		if (try_move(m, find_cross(m, n, src_ok),
			     rnd(&m->rng) & 1 ? find_cross(m, n, empty_ok) :
			     find_run(m, n, empty_ok), n, 0))
			add(&st.cross, 1);
		return OP_CROSS;
	}
	if (op < 68) {				/* overlapping, downward */
		long s = find_run(m, n, src_ok), k = 1 + rnd(&m->rng) % (n - 1);

		if (s >= 0 && try_move(m, s, s - k, n, 0))
			add(&st.shifts, 1);
		return OP_SHIFT;
	}
	if (op < 78) {				/* source holes allowed */
		try_move(m, find_run(m, n, any_ok), find_run(m, n, empty_ok),
			 n, 1);
		return OP_HOLES;
	}
	if (op < 84 && have_thp) {
		op_thp(m);
		return OP_THP;
	}
	op_gather(m);
	return OP_GATHER;
}

static void mover_step(struct mover *m)
{
	uint64_t t0 = now_ns();
	int op;

	while (n_extra > reg_slots / 16 && rnd(&m->rng) % 4)
		drop_zero(m);
	long calls = __atomic_load_n(&st.calls, __ATOMIC_RELAXED);

	op = mover_op(m, 2 + rnd(&m->rng) % 31);
	add(&op_count[op], 1);
	add(&op_ns[op], now_ns() - t0);
	/* nothing found or locked: back off rather than take the CPU from
	 * the thread holding the locks (under TCG that costs seconds) */
	if (__atomic_load_n(&st.calls, __ATOMIC_RELAXED) == calls)
		usleep(200);
}

static void *mover_main(void *arg)
{
	struct mover *m = arg;

	while (!stop)
		mover_step(m);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the fault handler and the readers                                   */

static void serve_fault(uintptr_t addr)
{
	long s = addr_slot(addr);
	long c;

	add(&st.faults, 1);
	if (s < 0) {
		fail(&n_reader_fail, "fault at %#lx outside the areas",
		     (unsigned long)addr);
		return;
	}
	c = s / CHUNK;
	pthread_mutex_lock(&locks[c]);
	if (state(s) == S_EMPTY || state(s) == S_MAYBE) {
		int r = uffd_zeropage(s);

		if (r == 0 && state(s) == S_EMPTY) {
			set_state(s, S_ZERO);
			add(&st.zeropages, 1);
		} else if (r == -EEXIST && state(s) == S_EMPTY) {
			fail(&n_errno_fail, "UFFDIO_ZEROPAGE %p: EEXIST on a "
			     "slot that should be empty", slot_addr(s));
		}
		if (r)
			uffd_wake(s);
	} else {
		uffd_wake(s);
	}
	pthread_mutex_unlock(&locks[c]);
}

static void *handler_main(void *arg)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };

	(void)arg;
	while (!handler_stop) {
		struct uffd_msg msg;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			serve_fault(msg.arg.pagefault.address & ~(ps - 1));
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct mover *m = arg;
	long last = 0, n = 0;

	while (!stop) {
		long s = rnd(&m->rng) % nslots;
		uint64_t w;

		if (state(s) == S_EMPTY && rnd(&m->rng) % 8)
			continue;
		w = *(volatile uint64_t *)slot_addr(s);
		add(&st.reads, 1);
		if (++n % 16 == 0)
			pace(&last, 1, 0);
		if (w && tag_id(w) < 0 &&
		    w != 0x5a5a5a5a5a5a5a5aull)
			fail(&n_reader_fail, "reader: %p holds %#llx, no tag",
			     slot_addr(s), (unsigned long long)w);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* verification                                                        */

struct problems {
	long corrupt, lost, dup;
};

static void verify_slot(long s, uint64_t pm, long *seen, uint64_t *pfns,
			long *npfn, struct problems *pr)
{
	uint32_t x = state(s);
	char *p = slot_addr(s);
	int m = (pm & (PM_PRESENT | PM_SWAP)) != 0;

	if (x & S_DATA) {
		uint32_t id = x & ~S_DATA;
		long w;

		seen[id]++;
		if (!m) {
			pr->lost++;
			fail(&n_verify_fail, "lost: page %u at %p (slot %ld) "
			     "is not mapped", id, p, s);
			return;
		}
		w = check_page(p, id);
		if (w == 0 && tag_id(*(uint64_t *)p) >= 0) {
			pr->dup++;
			fail(&n_verify_fail, "misplaced: slot %ld (%p) should "
			     "hold page %u, holds page %ld", s, p, id,
			     tag_id(*(uint64_t *)p));
		} else if (w >= 0) {
			pr->corrupt++;
			fail(&n_verify_fail, "corrupt: page %u at %p (slot "
			     "%ld), word %ld is %#llx, not %#llx", id, p, s, w,
			     (unsigned long long)((uint64_t *)p)[w],
			     (unsigned long long)page_word(id, w));
		}
		if ((pm & PM_PRESENT) && (pm & PM_PFN))
			pfns[(*npfn)++] = pm & PM_PFN;
	} else if (x == S_ZERO) {
		if (!m || !page_is_zero(p)) {
			pr->corrupt++;
			fail(&n_verify_fail, "zero page at %p (slot %ld) %s",
			     p, s, m ? "is not zero" : "is not mapped");
		}
	} else if (x == S_EMPTY && m) {
		long id = tag_id(*(volatile uint64_t *)p);

		pr->dup++;
		fail(&n_verify_fail, "duplicate: slot %ld (%p) should be "
		     "empty, maps %s%ld", s, p, id >= 0 ? "a copy of page " :
		     "a page, tag ", id >= 0 ? id : -1L);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every slot by pagemap and content; every id exactly once; no physical
 * page mapped twice.  All chunks must be held. */
static struct problems verify_all(const char *when)
{
	struct problems pr = { 0, 0, 0 };
	long *seen = calloc(nids, sizeof(long)), npfn = 0;
	uint64_t t0 = now_ns();
	uint64_t *pfns = malloc(nslots * sizeof(uint64_t));
	uint64_t *pm = malloc(area_pages * 8);

	if (!seen || !pfns || !pm)
		die(3, "out of memory");
	for (int a = 0; a < nareas; a++) {
		if (pread(pagemap_fd, pm, area_pages * 8,
			  (uintptr_t)area[a] / ps * 8) != area_pages * 8)
			die(3, "pagemap: %s", strerror(errno));
		for (long i = 0; i < area_pages; i++)
			verify_slot(a * area_pages + i, pm[i], seen, pfns,
				    &npfn, &pr);
	}
	for (long id = 0; id < nids; id++)
		if (seen[id] != 1) {
			if (seen[id] == 0)
				pr.lost++;
			else
				pr.dup++;
			fail(&n_verify_fail, "shadow map holds page %ld %ld "
			     "times", id, seen[id]);
		}
	qsort(pfns, npfn, sizeof(uint64_t), cmp_u64);
	for (long i = 1; i < npfn; i++)
		if (pfns[i] == pfns[i - 1]) {
			pr.dup++;
			fail(&n_verify_fail, "pfn %#llx mapped by two data "
			     "slots", (unsigned long long)pfns[i]);
		}
	add(&st.verifications, 1);
	if (opt.verbose || pr.corrupt || pr.lost || pr.dup)
		note("verify (%s, %.2f s): %ld corrupt, %ld lost, %ld "
		     "duplicated; %ld pages moved so far", when,
		     (now_ns() - t0) / 1e9, pr.corrupt, pr.lost, pr.dup,
		     st.pages);
	free(seen);
	free(pfns);
	free(pm);
	return pr;
}

/* ------------------------------------------------------------------ */
/* disturbers                                                          */

/* fork with all chunks held; the child checks its copy against the
 * shadow map it inherited and that a cross-mm move is refused. */
static int child_check(void)
{
	char buf[256];
	int bad = 0;
	struct uffdio_move mv = {
		.dst = (uintptr_t)area[0], .src = (uintptr_t)area[1],
		.len = ps, .move = 777,
	};

	alarm(120);
	for (long s = 0; s < nslots; s++) {
		uint32_t x = shadow[s];
		const char *p = slot_addr(s);
		long w = 0;

		if (x & S_DATA)
			w = check_page(p, x & ~S_DATA);
		else if (x == S_ZERO || x == S_EMPTY)
			w = page_is_zero(p) ? -1 : 0;
		else
			w = -1;
		if (w >= 0 && bad++ < 5) {
			int n = snprintf(buf, sizeof(buf), "# FAIL: fork "
					 "child: slot %ld (%p) word %ld wrong "
					 "in the child's copy\n", s, p, w);
			if (write(1, buf, n) < 0)
				break;
		}
	}
	if (ioctl(uffd, UFFDIO_MOVE, &mv) == 0 || errno != EINVAL ||
	    mv.move != 777) {
		int n = snprintf(buf, sizeof(buf), "# FAIL: fork child: "
				 "UFFDIO_MOVE on the parent's uffd gave %s, "
				 "move=%lld (want EINVAL, not written)\n",
				 strerror(errno), (long long)mv.move);
		if (write(1, buf, n) < 0)
			bad++;
		bad++;
	}
	return bad ? 1 : 0;
}

static void *fork_main(void *arg)
{
	(void)arg;
	long last = 0;

	while (!stop) {
		pid_t pid;
		int status;

		pace(&last, 300, 5000);
		if (stop)
			break;
		lock_all();
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(child_check());
		if (pid > 0)
			for (long s = 0; s < nslots; s++)
				if (state(s) != S_EMPTY)
					shared[s] = 1;
		unlock_all();
		if (pid < 0) {
			note("fork: %s", strerror(errno));
			continue;
		}
		add(&st.forks, 1);
		if (waitpid(pid, &status, 0) != pid)
			die(3, "waitpid: %s", strerror(errno));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			add(&st.children_ok, 1);
		else
			fail(&n_fork_fail, "fork child: status %#x", status);
	}
	return NULL;
}

/* scratch and zero pages come and go; extras stay under 1/8 of the slots */
static void madvise_step(struct mover *m, const char *scratch)
{
	long s = rnd_slot(m), n = 1 + rnd(&m->rng) % 8;
	int grow = n_extra < nslots / 8;
	struct span sp = { .n = 0 };

	if (!run_is(s, n, any_ok))
		return;
	span_add(&sp, s, n);
	if (!span_trylock(&sp))
		return;
	for (long i = s; i < s + n; i++) {
		uint32_t x = state(i);
		unsigned r = rnd(&m->rng) % 4;

		add(&st.madvises, 1);
		if (x == S_EMPTY && grow) {
			if (r < 2 && uffd_copy(i, scratch) == 0)
				set_state(i, S_MAYBE);
			else if (r >= 2 && uffd_zeropage(i) == 0)
				set_state(i, S_ZERO);
		} else if (x == S_MAYBE && r == 0 && grow) {
			madvise(slot_addr(i), ps, MADV_FREE);
		} else if (x == S_MAYBE || x == S_ZERO) {
			madvise(slot_addr(i), ps, MADV_DONTNEED);
			set_state(i, S_EMPTY);
		}
	}
	span_unlock(&sp, sp.n);
}

static void *madvise_main(void *arg)
{
	struct mover *m = arg;
	char *scratch = aligned_alloc(ps, ps);

	long last = 0;

	memset(scratch, SCRATCH_BYTE, ps);
	while (!stop) {
		madvise_step(m, scratch);
		pace(&last, 1, 1);
	}
	free(scratch);
	return NULL;
}

static void *pageout_main(void *arg)
{
	struct mover *m = arg;
	long last = 0;

	while (!stop) {
		long s = rnd_slot(m), n = 1 + rnd(&m->rng) % pmd_pages;

		if (rnd(&m->rng) % 3 == 0) {	/* a whole THP: a large folio */
			s = rnd(&m->rng) % nregions * pmd_pages; /* in swap cache */
			n = pmd_pages;
		}
		if (s % area_pages + n > area_pages)
			n = area_pages - s % area_pages;
		madvise(slot_addr(s), n * ps,
			rnd(&m->rng) % 3 ? MADV_PAGEOUT : MADV_COLD);
		add(&st.pageouts, 1);
		pace(&last, 20, 20);
	}
	return NULL;
}

/* Before mlock populates a range, nothing in it may be missing (the
 * fault would wait for a handler that waits for our locks). */
static void fill_holes(long s, long n)
{
	for (long i = s; i < s + n; i++) {
		if (state(i) == S_MAYBE) {
			madvise(slot_addr(i), ps, MADV_DONTNEED);
			set_state(i, S_EMPTY);
		}
		if (state(i) == S_EMPTY) {
			int r = uffd_zeropage(i);

			if (r)
				fail(&n_errno_fail, "UFFDIO_ZEROPAGE %p: %s",
				     slot_addr(i), strerror(-r));
			else
				set_state(i, S_ZERO);
		}
	}
}

/* mprotect read-only (or mlock) a range for a moment: its VMA splits,
 * then merges back; moves there would be refused, so it is locked */
static void *vma_main(void *arg)
{
	struct mover *m = arg;
	long last = 0;

	while (!stop) {
		long s = rnd_slot(m), n = 1 + rnd(&m->rng) % 96;
		int lock = (opt.disturb & (1u << D_MLOCK)) &&
			   (!(opt.disturb & (1u << D_MPROTECT)) ||
			    rnd(&m->rng) % 2);
		struct span sp = { .n = 0 };

		pace(&last, 10, 10);
		if (!run_is(s, n, any_ok))
			continue;
		span_add(&sp, s, n);
		if (!span_trylock(&sp))
			continue;
		if (lock) {
			fill_holes(s, n);
			if (mlock(slot_addr(s), n * ps) == 0) {
				add(&st.mlocks, 1);
				sleep_ms(2);
				munlock(slot_addr(s), n * ps);
			}
		} else if (mprotect(slot_addr(s), n * ps, PROT_READ) == 0) {
			add(&st.mprotects, 1);
			sleep_ms(2);
			if (mprotect(slot_addr(s), n * ps,
				     PROT_READ | PROT_WRITE))
				die(3, "mprotect back: %s", strerror(errno));
		}
		span_unlock(&sp, sp.n);
	}
	return NULL;
}

static void *collapse_main(void *arg)
{
	struct mover *m = arg;
	long last = 0;

	while (!stop) {
		long r = rnd(&m->rng) % nregions;

		for (long i = 0; i < nregions; i++)
			if (region_fill((r + i) % nregions) == pmd_pages) {
				r = (r + i) % nregions;
				break;
			}
		madvise(slot_addr(r * pmd_pages), pmd_pages * ps, MADV_COLLAPSE);
		add(&st.collapses, 1);
		pace(&last, 50, 50);
	}
	return NULL;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static void *compact_main(void *arg)
{
	long last = 0;

	(void)arg;
	while (!stop) {
		if (write_file("/proc/sys/vm/compact_memory", "1") == 0)
			add(&st.compactions, 1);
		pace(&last, 500, 10000);
	}
	return NULL;
}

static void *proc_main(void *arg)
{
	struct mover *m = arg;
	char buf[65536];
	long last = 0;

	while (!stop) {
		int fd = open("/proc/self/smaps", O_RDONLY);

		if (fd >= 0) {
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
		}
		pread(pagemap_fd, buf, 8 * (1 + rnd(&m->rng) % 1024),
		      (uintptr_t)slot_addr(rnd_slot(m)) / ps * 8);
		pace(&last, 30, 50);
	}
	return NULL;
}

/* the writer: how long does an mmap+munmap pair wait behind the movers? */
static uint64_t *lat;
static long nlat, maxlat = 1 << 20;

static void *writer_main(void *arg)
{
	long last = 0;

	(void)arg;
	lat = malloc(maxlat * sizeof(*lat));
	while (!stop && lat && nlat < maxlat) {
		uint64_t t0 = now_ns();
		void *p = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, 4 * ps);
		lat[nlat++] = now_ns() - t0;
		pace(&last, 2, 2);
	}
	return NULL;
}

/* ksmd on our areas, restored at the end */
static char ksm_run_old[16];

static void ksm_start(void)
{
	int fd = open("/sys/kernel/mm/ksm/run", O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		note("ksm: not available, disturber off");
		opt.disturb &= ~(1u << D_KSM);
		return;
	}
	n = read(fd, ksm_run_old, sizeof(ksm_run_old) - 1);
	close(fd);
	ksm_run_old[n > 0 ? n : 0] = 0;
	for (int a = 0; a < nareas; a++)
		madvise(area[a], area_pages * ps, MADV_MERGEABLE);
	write_file("/sys/kernel/mm/ksm/pages_to_scan", "2000");
	write_file("/sys/kernel/mm/ksm/sleep_millisecs", "20");
	if (write_file("/sys/kernel/mm/ksm/run", "1"))
		note("ksm: cannot start ksmd");
}

static void ksm_stop(void)
{
	if (ksm_run_old[0])
		write_file("/sys/kernel/mm/ksm/run", ksm_run_old);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static long read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long v = dflt;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

/* Areas filled region by region: a third full (THPs where the kernel
 * gives them), a third empty, a third half full at random; ids shuffled. */
static void setup(void)
{
	long thp = read_long("/sys/kernel/mm/transparent_hugepage/"
			     "hpage_pmd_size", 0);
	uint64_t rng = splitmix(opt.seed ^ 0x5e7);
	uint32_t *ids;
	long next = 0;

	ps = sysconf(_SC_PAGESIZE);
	pt_pages = ps / sizeof(long);	/* ptes per page table (no PAE) */
	have_thp = thp > ps;
	pmd_pages = have_thp ? thp / ps : pt_pages;
	area_pages = opt.area_mb * (1 << 20) / ps;
	area_pages -= area_pages % pmd_pages;
	if (area_pages < 2 * pmd_pages)
		usage_error("--area-mb: at least two %ld KiB regions",
			    pmd_pages * ps / 1024);
	nareas = opt.areas + opt.lanes;
	reg_slots = area_pages * opt.areas;
	reg_regions = reg_slots / pmd_pages;
	nslots = area_pages * nareas;
	nregions = nslots / pmd_pages;
	nchunks = (nslots + CHUNK - 1) / CHUNK;
	content_seed = splitmix(opt.seed);
	area = calloc(nareas, sizeof(char *));
	shadow = calloc(nslots, sizeof(uint32_t));
	shared = calloc(nslots, 1);
	locks = calloc(nchunks, sizeof(*locks));
	ids = malloc(nslots * sizeof(uint32_t));
	if (!area || !shadow || !shared || !locks || !ids)
		die(3, "out of memory");
	for (long c = 0; c < nchunks; c++)
		pthread_mutex_init(&locks[c], NULL);
	for (long r = 0; r < nregions; r++) {
		long kind = r < reg_regions ? r % 3 : (r - reg_regions) % 2;

		for (long i = 0; i < pmd_pages; i++)
			if (kind == 0 || (kind == 2 && rnd(&rng) % 2))
				shadow[r * pmd_pages + i] = S_DATA;
	}
	for (long s = 0; s < nslots; s++)
		if (shadow[s])
			ids[next] = next, next++;
	nids = next;
	for (long i = nids - 1; i > 0; i--) {	/* shuffle the ids */
		long j = rnd(&rng) % (i + 1);
		uint32_t t = ids[i];

		ids[i] = ids[j], ids[j] = t;
	}
	next = 0;
	for (int a = 0; a < nareas; a++) {
		area[a] = map_aligned(area_pages * ps, pmd_pages * ps,
				      PROT_READ | PROT_WRITE, 0);
		madvise(area[a], area_pages * ps, MADV_HUGEPAGE);
	}
	for (long s = 0; s < nslots; s++)
		if (shadow[s]) {
			shadow[s] = S_DATA | ids[next++];
			fill_page(slot_addr(s), shadow[s] & ~S_DATA);
		}
	for (long s = 0; s < nslots; s++)	/* empty slots of half-full THPs */
		if (!shadow[s])
			madvise(slot_addr(s), ps, MADV_DONTNEED);
	free(ids);
	uffd = uffd_create(UFFD_FEATURE_MOVE);
	for (int a = 0; a < nareas; a++)
		if (!(uffd_register(uffd, area[a], area_pages * ps) &
		      (1ull << _UFFDIO_MOVE)))
			die(3, "UFFDIO_REGISTER does not offer UFFDIO_MOVE");
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		die(3, "/proc/self/pagemap: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static unsigned parse_disturb(const char *list)
{
	unsigned mask = 0;
	char *copy = strdup(list), *save = NULL;

	if (!strcmp(list, "all"))
		return (1u << ND) - 1;
	if (!strcmp(list, "none"))
		return 0;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int i = 0;

		while (i < ND && strcmp(t, dnames[i]))
			i++;
		if (i == ND)
			usage_error("--disturb: unknown disturber '%s'", t);
		mask |= 1u << i;
	}
	free(copy);
	return mask;
}

static double parse_num(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0)
		usage_error("%s: not a number: '%s'", what, s);
	return v;
}

static void parse_options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", 1, 0, 's' }, { "pages", 1, 0, 'p' },
		{ "seconds", 1, 0, 't' }, { "areas", 1, 0, 'a' },
		{ "area-mb", 1, 0, 'm' }, { "lanes", 1, 0, 'l' }, { "movers", 1, 0, 'M' },
		{ "readers", 1, 0, 'r' }, { "disturb", 1, 0, 'd' },
		{ "verify-every", 1, 0, 'V' }, { "inject", 1, 0, 'i' },
		{ "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' }, { 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'p': opt.pages_goal = parse_num(optarg, "--pages"); break;
		case 't': opt.seconds = parse_num(optarg, "--seconds"); break;
		case 'a': opt.areas = parse_num(optarg, "--areas"); break;
		case 'm': opt.area_mb = parse_num(optarg, "--area-mb"); break;
		case 'l': opt.lanes = parse_num(optarg, "--lanes"); break;
		case 'M': opt.movers = parse_num(optarg, "--movers"); break;
		case 'r': opt.readers = parse_num(optarg, "--readers"); break;
		case 'd': opt.disturb = parse_disturb(optarg); break;
		case 'V': opt.verify_every = parse_num(optarg, "--verify-every");
			break;
		case 'i': opt.inject = optarg; break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(); exit(0);
		default: try_help();
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (opt.areas < 2 || opt.movers < 1 || opt.movers > 64 ||
	    opt.readers > 64)
		usage_error("need --areas >= 2 and 1 <= --movers <= 64");
	if (opt.inject && strcmp(opt.inject, "corrupt") &&
	    strcmp(opt.inject, "drop") && strcmp(opt.inject, "dup"))
		usage_error("--inject: corrupt, drop or dup");
	if (!opt.pages_goal && !opt.seconds)
		opt.seconds = 10;
	if (!opt.readers)
		opt.disturb &= ~(1u << D_READ);
}

/* ------------------------------------------------------------------ */
/* the run                                                             */

static void inject(void)
{
	uint64_t rng = splitmix(opt.seed ^ 0x1417);
	long s, e;

	do
		s = rnd(&rng) % nslots;
	while (!(state(s) & S_DATA));
	if (!strcmp(opt.inject, "corrupt")) {
		slot_addr(s)[ps / 2] ^= 1;
		note("inject: flipped a bit of page %u at %p", state(s) & ~S_DATA,
		     slot_addr(s));
	} else if (!strcmp(opt.inject, "drop")) {
		madvise(slot_addr(s), ps, MADV_DONTNEED);
		note("inject: dropped page %u at %p", state(s) & ~S_DATA,
		     slot_addr(s));
	} else {
		do
			e = rnd(&rng) % nslots;
		while (state(e) != S_EMPTY || mapped(e));
		if (uffd_copy(e, slot_addr(s)))
			die(3, "inject: UFFDIO_COPY: %s", strerror(errno));
		note("inject: copied page %u at %p to empty %p",
		     state(s) & ~S_DATA, slot_addr(s), slot_addr(e));
	}
}

static int tally_pass, tally_fail;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (ok)
		tally_pass++;
	else
		tally_fail++;
}

static void latency_summary(void)
{
	if (!nlat) {
		printf("# writer: no mmap+munmap pairs measured\n");
		return;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("# writer: %ld mmap+munmap pairs beside the movers: median "
	       "%.1f us, p99 %.1f us, max %.3f ms\n", nlat,
	       lat[nlat / 2] / 1e3, lat[nlat * 99 / 100] / 1e3,
	       lat[nlat - 1] / 1e6);
}

static pthread_t spawn(void *(*fn)(void *), int idx)
{
	pthread_t t;
	struct mover *m = calloc(1, sizeof(*m));

	m->id = idx;
	m->rng = splitmix(opt.seed * 1000003 + idx);
	if (pthread_create(&t, NULL, fn, m))
		die(3, "pthread_create: %s", strerror(errno));
	return t;
}

int main(int argc, char **argv)
{
	pthread_t th[256], hth;
	int nth = 0, nrd = 0;
	struct utsname u;
	uint64_t t0, tv, limit;
	struct problems fin;
	long verify_bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_options(argc, argv);
	if (!(uffd_features() & UFFD_FEATURE_MOVE)) {
		printf("ok - uffd-stress # SKIP no UFFD_FEATURE_MOVE\n");
		return 4;
	}
	uname(&u);
	reference_kernel = strncmp(u.release, "6.1.", 4) != 0;
	setup();
	printf("# uffd-stress: seed %llu, %d areas + %d lanes x %ld pages, %ld "
	       "tagged pages, THP %ld KiB%s, %d movers, kernel %s%s\n",
	       (unsigned long long)opt.seed, opt.areas, opt.lanes, area_pages,
	       nids,
	       have_thp ? pmd_pages * ps / 1024 : 0, have_thp ? "" : " (none)",
	       opt.movers, u.release,
	       reference_kernel ? " (reference: its known bugs are noted)" : "");
	printf("# budget: %ld pages, %.0f s\n", opt.pages_goal, opt.seconds);
	if (opt.disturb & (1u << D_KSM))
		ksm_start();
	hth = spawn(handler_main, 0);
	for (int i = 0; i < opt.movers; i++)
		th[nth++] = spawn(mover_main, 1 + i);
	if (opt.disturb & (1u << D_READ))
		for (int i = 0; i < opt.readers; i++)
			th[nth++] = spawn(reader_main, 100 + i), nrd++;
	{
		static void *(*const fn[ND])(void *) = {
			[D_FORK] = fork_main, [D_MADV] = madvise_main,
			[D_PAGEOUT] = pageout_main, [D_MPROTECT] = vma_main,
			[D_COLLAPSE] = collapse_main, [D_COMPACT] = compact_main,
			[D_PROC] = proc_main, [D_WRITER] = writer_main,
		};
		for (int d = 0; d < ND; d++)
			if (fn[d] && (opt.disturb & (1u << d)))
				th[nth++] = spawn(fn[d], 200 + d);
		if ((opt.disturb & (1u << D_MLOCK)) &&
		    !(opt.disturb & (1u << D_MPROTECT)))
			th[nth++] = spawn(vma_main, 200 + D_MLOCK);
	}
	t0 = tv = now_ns();
	limit = opt.seconds ? (uint64_t)(opt.seconds * 1e9) : UINT64_MAX;
	while (!stop) {
		sleep_ms(100);
		if (now_ns() - t0 >= limit ||
		    (opt.pages_goal && st.pages >= opt.pages_goal))
			stop = 1;
		if (!stop && now_ns() - tv >= opt.verify_every * 1e9) {
			struct problems p;

			lock_all();
			p = verify_all("quiescent");
			unlock_all();
			verify_bad += p.corrupt + p.lost + p.dup;
			if (opt.verbose)
				note("%.0f s: %ld calls, %ld pages, %ld THP "
				     "moves", (now_ns() - t0) / 1e9, st.calls,
				     st.pages, st.thp_moves);
			tv = now_ns();
		}
	}
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	handler_stop = 1;
	pthread_join(hth, NULL);
	ksm_stop();
	if (opt.inject)
		inject();
	fin = verify_all("final");
	if (opt.verbose) {
		printf("# region fill:");
		for (long r = 0; r < nregions; r++) {
			long z = 0;

			for (long i = 0; i < pmd_pages; i++)
				z += is_extra(state(r * pmd_pages + i));
			printf(" %ld/%ld", region_fill(r), z);
		}
		printf("\n");
	}

	printf("# ran %.1f s: %ld UFFDIO_MOVE calls moved %ld pages (%ld zero,"
	       " %ld scratch) and skipped %ld holes; %ld whole-THP moves in the lanes,"
	       " %ld in the areas (%ld tries), %ld runs, %ld across page tables,"
	       " %ld overlapping\n",
	       (now_ns() - t0) / 1e9, st.calls, st.pages, st.zero_pages,
	       st.scratch_pages, st.holes, st.lane_moves, st.thp_moves,
	       st.thp_tries, st.runs,
	       st.cross, st.shifts);
	printf("# EAGAIN %ld (%ld with progress); EBUSY %ld shared after fork,"
	       " %ld scratch/KSM, %ld swap; faults served %ld (%ld zero "
	       "pages); reads %ld\n", st.eagain, st.eagain_progress,
	       st.ebusy_shared, st.ebusy_scratch, st.ebusy_swap, st.faults,
	       st.zeropages, st.reads);
	printf("# disturbers: %ld forks, %ld madvise, %ld pageout/cold, %ld "
	       "mprotect, %ld mlock, %ld collapse, %ld compactions; %ld "
	       "verifications\n", st.forks, st.madvises, st.pageouts,
	       st.mprotects, st.mlocks, st.collapses, st.compactions,
	       st.verifications);
	printf("# of the %ld pages, %ld moved in whole THP-sized regions, %ld "
	       "in smaller moves\n", st.pages,
	       (st.lane_moves + st.thp_moves) * pmd_pages,
	       st.pages - (st.lane_moves + st.thp_moves) * pmd_pages);
	if (n_reference_bug)
		printf("# reference kernel: %ld EEXIST after the pages did "
		       "move (its known bug, not counted)\n", n_reference_bug);
	printf("# mover ops (count, mean us):");
	for (int k = 0; k < NOPS; k++)
		printf(" %s %ld %.0f", op_names[k], op_count[k],
		       op_count[k] ? op_ns[k] / 1e3 / op_count[k] : 0.0);
	printf("\n");
	printf("# longest UFFDIO_MOVE call: %.3f ms (%ld pages, %s)\n",
	       call_max_ns / 1e6, call_max_pages,
	       call_max_err ? strerror(call_max_err) : "moved");
	latency_summary();
	if (opt.pages_goal)
		check(st.pages >= opt.pages_goal, "moved %ld pages (goal %ld)",
		      st.pages, opt.pages_goal);
	else
		check(st.pages > 0, "moved %ld pages", st.pages);
	check(!n_errno_fail, "every UFFDIO_MOVE result as the contract says "
	      "(%ld calls, %ld unexpected)", st.calls, n_errno_fail);
	check(!n_stall_swap, "no move of a swap entry stalled into EAGAIN "
	      "(%ld did)", n_stall_swap);
	check(!verify_bad, "%ld quiescent verifications: %ld problems",
	      st.verifications - 1, verify_bad);
	check(!fin.corrupt && !fin.lost && !fin.dup, "final verification of "
	      "%ld pages: %ld corrupt, %ld lost, %ld duplicated", nids,
	      fin.corrupt, fin.lost, fin.dup);
	if (opt.disturb & (1u << D_FORK))
		check(!n_fork_fail, "%ld fork children found their copy intact",
		      st.children_ok);
	if (nrd)
		check(!n_reader_fail, "readers saw only tags, zeros or "
		      "scratch (%ld reads, %ld faults)", st.reads, st.faults);
	printf("%d passed, %d failed\n", tally_pass, tally_fail);
	return tally_fail ? 1 : 0;
}
