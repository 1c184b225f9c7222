# The MOVE-versus-COPY verdict of `make run`, from gcsim --kv lines.
# POSIX awk (busybox awk in the guest, mawk/gawk on the host):
#     awk -f verdict.awk gcsim-output.txt
# Tested by test_verdict.py (python3 -m unittest test_verdict, in workload/).
#
# gcsim runs the modes interleaved: repetition i is one COPY run, then one
# MOVE run, on the same heap.  Two figures come out of it:
#   - each mode's compaction time: median [min..max] over its runs;
#   - MOVE/COPY of each repetition (its MOVE run over its COPY run): pairs
#     run back to back, so a change in the host's load between repetitions
#     hits both modes of a pair alike.
# The verdict is "MOVE faster" only when every MOVE run was faster than
# every COPY run (the ranges do not overlap, so every pair's ratio is below
# 1 too), and "COPY faster" in the mirror case.  With n runs of each mode,
# ranges that do not overlap by chance alone happen with probability
# 2 / C(2n, n): 0.10 for 3 runs, 0.008 for 5.  Anything else, or fewer than
# MIN_REPS pairs, or a run that failed verification, is "uncertain" and no
# single ratio is printed as if it were the answer.
# Output: a "MOVE/COPY compaction time: ..." line and a "verdict: ..." line;
# exit status 0 (a verdict or "uncertain"), 1 (a run failed verification),
# 2 (no pair of runs found).

function fmt(x) {
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}

# sort a[1..n] in place (insertion sort: n is small)
function sortn(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}

# median of a[1..n], sorted
function median(a, n) {
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

BEGIN {
	if (MIN_REPS == "") MIN_REPS = 3
	nc = nm = nbad = 0
}

/^workload=gcsim / {
	mode = ""; rep = ""; ms = ""; ver = ""
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		if (!eq) continue
		k = substr($i, 1, eq - 1); v = substr($i, eq + 1)
		if (k == "mode") mode = v
		else if (k == "rep") rep = v
		else if (k == "compaction_ms") ms = v
		else if (k == "verify") ver = v
	}
	if (mode != "copy" && mode != "move") next
	if (ver != "ok") nbad++
	if (ms == "" || rep == "") next
	if (mode == "copy") { copy[rep] = ms + 0; c[++nc] = ms + 0 }
	else { move[rep] = ms + 0; m[++nm] = ms + 0 }
}

END {
	np = 0
	for (r in move)
		if (r in copy) {
			np++
			ratio[np] = move[r] / copy[r]
		}
	if (np == 0) {
		print "MOVE/COPY compaction time: no pair of COPY and MOVE runs found"
		print "verdict: none"
		exit 2
	}
	sortn(c, nc); sortn(m, nm); sortn(ratio, np)
	printf "copy compaction time, ms: %s [%s..%s] over %d runs\n", \
		fmt(median(c, nc)), fmt(c[1]), fmt(c[nc]), nc
	printf "move compaction time, ms: %s [%s..%s] over %d runs\n", \
		fmt(median(m, nm)), fmt(m[1]), fmt(m[nm]), nm
	spread = sprintf("%s [%s..%s] over %d pairs", fmt(median(ratio, np)), \
		fmt(ratio[1]), fmt(ratio[np]), np)
	if (nbad) {
		printf "MOVE/COPY compaction time: not given: %d run(s) failed verification\n", nbad
		print "verdict: none: a run failed verification"
		exit 1
	}
	if (np < MIN_REPS) {
		printf "MOVE/COPY compaction time: uncertain (%s; %d pairs are too few, want %d)\n", \
			spread, np, MIN_REPS
		print "verdict: uncertain: too few runs"
		exit 0
	}
	if (m[nm] < c[1]) {
		printf "MOVE/COPY compaction time: %s\n", spread
		printf "verdict: MOVE is faster than COPY: every MOVE run beat every COPY run (MOVE/COPY %s to %s)\n", \
			fmt(ratio[1]), fmt(ratio[np])
	} else if (m[1] > c[nc]) {
		printf "MOVE/COPY compaction time: %s\n", spread
		printf "verdict: COPY is faster than MOVE: every COPY run beat every MOVE run (MOVE/COPY %s to %s)\n", \
			fmt(ratio[1]), fmt(ratio[np])
	} else {
		printf "MOVE/COPY compaction time: uncertain: the runs of the two modes overlap (pairs give %s to %s)\n", \
			fmt(ratio[1]), fmt(ratio[np])
		print "verdict: uncertain: too much spread to tell MOVE from COPY (a busy host under the wall clock?)"
	}
	exit 0
}
