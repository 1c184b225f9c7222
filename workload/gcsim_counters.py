#!/usr/bin/env python3
"""gcsim's counters side by side, one column per result file.

usage: python3 workload/gcsim_counters.py FILE [FILE...]

Each FILE holds `gcsim --kv` lines (a console log is fine).  Runs are grouped
by heap size, mutator threads, fault mode and copy/move; each counter is
printed as median [min..max] over the group's runs, CPU times per role and
context switches (voluntary/involuntary) included.  This is how the thread-
fault-mode comparison of ours and upstream in bench/README.md was read.
Stdlib only.
"""
import statistics
import sys

KEYS = ('compaction_ms', 'installed_by_collector', 'installed_by_handler',
        'faults', 'wakes', 'helped', 'eexist', 'eagain', 'mutator_faults',
        'mutator_ops', 'lat_median_us', 'lat_p99_us', 'cpu_collector_ms',
        'cpu_handler_ms', 'cpu_mutators_ms')
CSW = ('csw_collector', 'csw_handler', 'csw_mutators')


def load(path):
    groups = {}
    with open(path, errors='replace') as f:
        for line in f:
            i = line.find('workload=gcsim ')
            if i < 0:
                continue
            kv = dict(t.split('=', 1) for t in line[i:].split() if '=' in t)
            if kv.get('mode') not in ('copy', 'move'):
                continue
            key = (int(kv.get('heap_mib', 0)), kv.get('threads', '?'),
                   kv.get('fault_mode', 'thread'), kv['mode'])
            groups.setdefault(key, []).append(kv)
    return groups


def cell(runs, key):
    if key in CSW:
        v = [tuple(int(x) for x in r[key].split('/')) for r in runs if key in r]
        if not v:
            return '-'
        return '%g/%g' % (statistics.median(a for a, _ in v),
                          statistics.median(b for _, b in v))
    v = [float(r[key]) for r in runs if key in r]
    if not v:
        return '-'
    return '%.4g [%.4g..%.4g]' % (statistics.median(v), min(v), max(v))


def main(argv):
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    data = [(p, load(p)) for p in argv]
    width = 28
    for k in sorted(set(k for _, g in data for k in g)):
        print('== heap %dM, %s mutators, %s faults, %s' % k)
        print('%-22s' % '' + ''.join('%*s' % (width, p.split('/')[-1][-width + 2:])
                                     for p, _ in data))
        for key in KEYS + CSW:
            print('%-22s' % key + ''.join(
                '%*s' % (width, cell(g.get(k, []), key)) for _, g in data))
        print()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
