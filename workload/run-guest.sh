#!/bin/sh
# Run gcsim in both modes and print a small table. busybox sh compatible.
#   usage: run-guest.sh [gcsim options...]     (default: --heap 16M --reps 5)
# The binary is $GCSIM, else gcsim next to this script, else gcsim in $PATH.
# Prints the raw key=value lines too (prefixed by nothing, starting with
# "workload=gcsim") so a log of this script can be fed to bench/report.py.
# The table ends with each mode's compaction time as median [min..max] and
# the verdict of verdict.awk (next to this script): MOVE or COPY faster only
# when every run of one mode beat every run of the other, else "uncertain".
# Exit status: gcsim's (0 ok, 1 verification failed, 2 usage, 3 system).
here=$(dirname "$0")
if [ -z "$GCSIM" ]; then
	if [ -x "$here/gcsim" ]; then GCSIM=$here/gcsim
	elif [ -x "$here/../build/bin/gcsim" ]; then GCSIM=$here/../build/bin/gcsim
	else GCSIM=gcsim; fi
fi
[ $# -eq 0 ] && set -- --heap 16M --reps 5
out=/tmp/gcsim.$$
"$GCSIM" --kv --mode both "$@" >"$out"
rc=$?
cat "$out"
echo
awk '
/^# notice/ { print; next }
/^workload=gcsim/ {
	delete f
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["mode"] == "summary") next
	n++
	rows[n] = sprintf("%-5s %4s %9.2f %7s %7s %8s %7.1fus %7.1fus %7s %7s", f["mode"], \
		f["rep"], f["compaction_ms"], f["pages"], f["faults"], f["eexist"], \
		f["lat_median_us"], f["lat_p99_us"], f["recycled"], f["verify"])
}
END {
	printf "%-5s %4s %9s %7s %7s %8s %9s %9s %7s %7s\n", "mode", "rep", "time_ms", \
		"pages", "faults", "eexist", "lat_med", "lat_p99", "recycl", "verify"
	for (i = 1; i <= n; i++) print rows[i]
}' "$out"
awk -f "$here/verdict.awk" "$out"
rm -f "$out"
exit $rc
