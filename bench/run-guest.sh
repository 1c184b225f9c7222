#!/bin/sh
# Run the microbenchmark, then gcsim at a few heap sizes, printing result
# lines that bench/report.py reads. busybox sh compatible (guest).
#   usage: run-guest.sh [OUTFILE]        (default: stdout only)
# Environment:
#   UFFD_BENCH, GCSIM  paths of the binaries (default: next to this script,
#                      then ../build/bin, then $PATH)
#   BENCH_ARGS         extra uffd-bench options (default: none; e.g.
#                      "--pages 1024 --reps 5" for a quicker run)
#   HEAPS              gcsim heap sizes (default "8M 16M 32M")
#   GC_REPS            gcsim runs per mode and size (default 3)
#   FAULT_MODES        gcsim --fault-mode values (default "thread sigbus")
#   GC_ARGS            extra gcsim options (default: none)
# Exit status: 0 when everything ran and verified, else the first failure's.
here=$(dirname "$0")
find_bin() {
	if [ -x "$here/$1" ]; then echo "$here/$1"
	elif [ -x "$here/../build/bin/$1" ]; then echo "$here/../build/bin/$1"
	else echo "$1"; fi
}
UFFD_BENCH=${UFFD_BENCH:-$(find_bin uffd-bench)}
GCSIM=${GCSIM:-$(find_bin gcsim)}
HEAPS=${HEAPS:-"8M 16M 32M"}
GC_REPS=${GC_REPS:-3}
FAULT_MODES=${FAULT_MODES:-"thread sigbus"}
out=${1:-/dev/null}
: >"$out" 2>/dev/null || { echo "run-guest.sh: cannot write $out" >&2; exit 3; }
status=0

say() { echo "$*"; [ "$out" = /dev/null ] || echo "$*" >>"$out"; }
run() {
	# run a command, stream its stdout (and append it to $out), keep its status
	{ "$@"; echo $? >/tmp/rg.rc.$$; } | tee -a "$out"
	rc=$(cat /tmp/rg.rc.$$ 2>/dev/null || echo 3)
	rm -f /tmp/rg.rc.$$
	if [ "$rc" -ne 0 ]; then
		say "# FAILED: $* (status $rc)"
		[ $status -eq 0 ] && status=$rc
	fi
	return $rc
}

say "# run-guest.sh: $(uname -r) $(date -u +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)"
t0=$(date +%s)
run "$UFFD_BENCH" $BENCH_ARGS
t1=$(date +%s)
say "# uffd-bench took $((t1 - t0)) s"
for f in $FAULT_MODES; do
	for h in $HEAPS; do
		run "$GCSIM" --kv --mode both --heap "$h" --reps "$GC_REPS" \
			--fault-mode "$f" $GC_ARGS
	done
done
t2=$(date +%s)
say "# gcsim took $((t2 - t1)) s"
say "# run-guest.sh: done, status $status"
exit $status
