#!/usr/bin/env python3
"""Summarise uffd-bench / gcsim results, and compare two kernels.

usage: report.py OURS.txt [UPSTREAM.txt] [--labels ours,upstream] [--csv]

Each file is the output of bench/run-guest.sh (or of uffd-bench and
gcsim --kv directly); a serial-console log is fine: the result lines are
found anywhere in a line, other lines are ignored.  Recognised lines:

  case=NAME pages=N ... ns_per_page_median=X min=X max=X q1=X q3=X
  case=NAME skipped=REASON
  case=move_contend_mt ... move_p50_ns=X move_p99_ns=X writer_p50_ns=X ...
  workload=gcsim mode=copy|move heap_mib=H ... compaction_ms=X
      lat_median_us=X lat_p99_us=X verify=ok|FAILED
  # bench=uffd-bench kernel=K ...     (metadata)

A benchmark case seen several times is merged (median of the medians,
overall min and max). gcsim runs are grouped by (mode, heap size, threads,
recycle) and summarised as median [min..max] over the runs. The last column
is ours/upstream of the medians: below 1 means ours is faster.

Stdlib only. Exit status: 0, or 2 when a file is unreadable or has no results.
"""
import argparse
import re
import statistics
import sys

LINE_RE = re.compile(r'((?:case|workload)=\S+(?:\s+[#\w.\-]+=\S*)*)')
META_RE = re.compile(r'#\s*(?:bench=uffd-bench|workload=gcsim)\s+(.*)')


# move_contend_mt's extra keys: (key, row label, unit)
CONTEND_KEYS = (
    ('move_p50_ns', 'move median, writer running', 'ns/call'),
    ('move_p99_ns', 'move p99, writer running', 'ns/call'),
    ('move_alone_p50_ns', 'move median, alone', 'ns/call'),
    ('move_alone_p99_ns', 'move p99, alone', 'ns/call'),
    ('writer_p50_ns', 'mmap+munmap median, mover running', 'ns/pair'),
    ('writer_p99_ns', 'mmap+munmap p99, mover running', 'ns/pair'),
    ('writer_alone_p50_ns', 'mmap+munmap median, alone', 'ns/pair'),
    ('writer_alone_p99_ns', 'mmap+munmap p99, alone', 'ns/pair'),
    ('move_sleeps', 'mover blocked (sleeps), writer running', 'count'),
    ('move_alone_sleeps', 'mover blocked (sleeps), alone', 'count'),
    ('writer_sleeps', 'writer blocked (sleeps), mover running', 'count'),
    ('writer_alone_sleeps', 'writer blocked (sleeps), alone', 'count'),
)


def parse_kv(text):
    out = {}
    for tok in text.split():
        if '=' in tok:
            k, v = tok.split('=', 1)
            out[k] = v
    return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Results:
    """Rows keyed by a display name: dict(unit, median, lo, hi, n, note)."""

    def __init__(self, path):
        self.path = path
        self.meta = {}
        self.rows = {}
        self.order = []
        self.failed = []
        bench = {}
        gc = {}
        with open(path, encoding='utf-8', errors='replace') as f:
            for raw in f:
                line = raw.replace('\r', '').rstrip('\n')
                m = META_RE.search(line)
                if m:
                    for k, v in parse_kv(m.group(1)).items():
                        self.meta.setdefault(k, v)
                    continue
                m = LINE_RE.search(line)
                if not m:
                    continue
                kv = parse_kv(m.group(1))
                if 'case' in kv:
                    bench.setdefault(kv['case'], []).append(kv)
                elif kv.get('workload') == 'gcsim' and kv.get('mode') in ('copy', 'move'):
                    fmode = kv.get('fault_mode', 'thread')
                    if num(kv.get('from_thp_kb')):
                        fmode += '+thp'
                    key = (kv.get('heap_mib', '?'), kv.get('threads', '?'), fmode,
                           kv.get('recycle', '?') if kv['mode'] == 'move'
                           else kv.get('copy_scratch', 'dontneed'),
                           kv['mode'])
                    gc.setdefault(key, []).append(kv)
                    if kv.get('verify') != 'ok':
                        self.failed.append(m.group(1)[:120])
        for name, lines in bench.items():
            done = [kv for kv in lines if 'ns_per_page_median' in kv]
            if not done:
                self._add(name, 'ns/page', None, None, None, 0,
                          'skipped: ' + lines[-1].get('skipped', '?'))
                continue
            meds = [num(kv['ns_per_page_median']) for kv in done]
            los = [num(kv.get('min')) for kv in done if num(kv.get('min')) is not None]
            his = [num(kv.get('max')) for kv in done if num(kv.get('max')) is not None]
            reps = sum(int(num(kv.get('reps')) or 0) for kv in done)
            note = ''
            if 'tlb_ipis_per_page' in done[-1]:
                note = 'TLB IPIs/page %s' % done[-1]['tlb_ipis_per_page']
            if 'dst_thp_kb' in done[-1]:
                note = 'dst THP %s kB' % done[-1]['dst_thp_kb']
                if done[-1].get('note'):
                    note += ', ' + done[-1]['note']
            self._add(name, 'ns/page', statistics.median(meds),
                      min(los) if los else None, max(his) if his else None,
                      reps, note)
            # move_contend_mt: latency of one move and of the writer's
            # mmap+munmap pair, together and each alone
            for key, label, unit in CONTEND_KEYS:
                vals = [num(kv.get(key)) for kv in done]
                vals = [x for x in vals if x is not None]
                if not vals:
                    continue
                if key.startswith('writer') and 'alone' not in key and not any(
                        num(kv.get('writer_pairs')) for kv in done):
                    continue	# the writer did no pair inside the phase
                self._add('%s %s' % (name, label), unit, statistics.median(vals),
                          min(vals) if len(vals) > 1 else None,
                          max(vals) if len(vals) > 1 else None, len(vals), '')
        # gcsim: per heap size, copy then move, then the ratio
        def variant(threads, fmode, recycle):
            # recycle: '0'/'1' for move runs, the copy_scratch mode for copy
            return 't%s%s%s%s' % (threads,
                                ' sigbus' if fmode.startswith('sigbus') else '',
                                ' thp' if fmode.endswith('+thp') else '',
                                ' norecycle' if recycle == '0' else
                                ' scratch-reuse' if recycle == 'reuse' else '')

        def order(k):
            heap, threads, fmode, recycle, mode = k
            return (num(heap) or 0, threads, fmode != 'thread', fmode, mode,
                    recycle)

        for key in sorted(gc, key=order):
            heap, threads, fmode, recycle, mode = key
            runs = gc[key]
            times = [num(kv.get('compaction_ms')) for kv in runs]
            times = [t for t in times if t is not None]
            p99 = [num(kv.get('lat_p99_us')) for kv in runs]
            p99 = [t for t in p99 if t is not None]
            med = [num(kv.get('lat_median_us')) for kv in runs]
            med = [t for t in med if t is not None]
            tag = 'gcsim %s %sM %s' % (mode, heap, variant(threads, fmode, recycle))
            if times:
                self._add(tag + ' time', 'ms', statistics.median(times),
                          min(times), max(times), len(times), '')
            if med:
                self._add(tag + ' fault lat median', 'us', statistics.median(med),
                          min(med), max(med), len(med), '')
            if p99:
                self._add(tag + ' fault lat p99', 'us', statistics.median(p99),
                          min(p99), max(p99), len(p99), '')
            # thread faults: the CPU the collector and the handler thread
            # used, i.e. compaction work without the mutators' share of the
            # CPU, which is the scheduler's choice (bench/README.md, "gcsim
            # in thread-fault mode on 6.1")
            gcpu = [num(kv.get('cpu_collector_ms')) + num(kv.get('cpu_handler_ms'))
                    for kv in runs if fmode.startswith('thread') and
                    num(kv.get('cpu_collector_ms')) is not None and
                    num(kv.get('cpu_handler_ms')) is not None]
            if gcpu:
                self._add(tag + ' GC CPU', 'ms', statistics.median(gcpu),
                          min(gcpu), max(gcpu), len(gcpu),
                          'collector + handler thread')
        for key in sorted(gc, key=order):
            heap, threads, fmode, recycle, mode = key
            if mode != 'move':
                continue
            for cs in ('dontneed', 'reuse'):
                ck = (heap, threads, fmode, cs, 'copy')
                if ck not in gc:
                    continue
                mt = statistics.median(num(kv['compaction_ms']) for kv in gc[key])
                ct = statistics.median(num(kv['compaction_ms']) for kv in gc[ck])
                if ct:
                    self._add('gcsim MOVE/COPY %sM %s%s' % (
                        heap, variant(threads, fmode, recycle),
                        ' vs scratch-reuse' if cs == 'reuse' else ''),
                        'ratio', mt / ct, None, None, len(gc[key]),
                        'compaction time')
        # derived ratios from the microbenchmark
        for a, b, label in (('move_contig', 'copy_contig', 'MOVE/COPY contig'),
                            ('move_alloc_contig', 'copy_contig',
                             'MOVE+alloc/COPY contig'),
                            ('move_scatter', 'copy_scatter', 'MOVE/COPY scatter'),
                            ('move_contig_mt', 'copy_contig_mt',
                             'MOVE/COPY contig, sibling on 2nd CPU'),
                            ('move_contig_mt', 'move_contig',
                             'MOVE contig, sibling/alone'),
                            ('copy_contig_mt', 'copy_contig',
                             'COPY contig, sibling/alone'),
                            ('thp_move_pmd', 'thp_move_4k', 'THP PMD/512x4K')):
            ra, rb = self.rows.get(a), self.rows.get(b)
            if ra and rb and ra['median'] and rb['median']:
                self._add(label, 'ratio', ra['median'] / rb['median'], None, None,
                          0, '')

    def _add(self, name, unit, median, lo, hi, n, note):
        if name not in self.rows:
            self.order.append(name)
        self.rows[name] = dict(unit=unit, median=median, lo=lo, hi=hi, n=n,
                               note=note)


def fmt(v):
    if v is None:
        return '-'
    if abs(v) >= 100:
        return '%.0f' % v
    if abs(v) >= 10:
        return '%.1f' % v
    return '%.3g' % v


def cell(r):
    if r is None:
        return 'n/a'
    if r['median'] is None:
        return r['note'] or 'skipped'
    s = fmt(r['median'])
    if r['lo'] is not None and r['hi'] is not None:
        s += ' [%s..%s]' % (fmt(r['lo']), fmt(r['hi']))
    return s


def build_table(ours, ups, labels):
    names = list(ours.order)
    if ups:
        names += [n for n in ups.order if n not in ours.rows]
    head = ['case', 'unit', labels[0] + ' median [min..max]']
    if ups:
        head += [labels[1] + ' median [min..max]', '%s/%s' % tuple(labels)]
    head.append('note')
    rows = []
    for n in names:
        a = ours.rows.get(n)
        b = ups.rows.get(n) if ups else None
        unit = (a or b)['unit']
        row = [n, unit, cell(a)]
        if ups:
            ratio = '-'
            if a and b and a['median'] and b['median']:
                ratio = '%.2f' % (a['median'] / b['median'])
            row += [cell(b), ratio]
        notes = [x['note'] for x in (a, b) if x and x['note'] and x['median'] is not None]
        row.append(notes[0] if notes else '')
        rows.append(row)
    return head, rows


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Tabulate uffd-bench/gcsim results; compare ours with upstream.')
    ap.add_argument('ours', help='result file of our kernel')
    ap.add_argument('upstream', nargs='?', help='result file of the reference kernel')
    ap.add_argument('--labels', default='ours,upstream',
                    help='column labels, comma separated (default ours,upstream)')
    ap.add_argument('--csv', action='store_true', help='CSV instead of a text table')
    args = ap.parse_args(argv)
    labels = args.labels.split(',')
    if len(labels) != 2 or not all(labels):
        ap.error('--labels wants two comma-separated names')
    try:
        ours = Results(args.ours)
        ups = Results(args.upstream) if args.upstream else None
    except OSError as e:
        print('report.py: %s' % e, file=sys.stderr)
        return 2
    for r in (ours, ups):
        if r is not None and not r.rows:
            print('report.py: no results found in %s' % r.path, file=sys.stderr)
            return 2
    head, rows = build_table(ours, ups, labels)
    if args.csv:
        import csv
        w = csv.writer(sys.stdout)
        w.writerow(head)
        w.writerows(rows)
        return 0
    for lab, r in zip(labels, (ours, ups)):
        if r is not None:
            print('%s: %s (kernel %s, uffd_move=%s, thp=%s)' % (
                lab, r.path, r.meta.get('kernel', '?'), r.meta.get('uffd_move', '?'),
                r.meta.get('thp', '?')))
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    print()
    print('  '.join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
    print('  '.join('-' * w for w in widths))
    for row in rows:
        print('  '.join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    for lab, r in zip(labels, (ours, ups)):
        if r is not None and r.failed:
            print('\n%s: %d gcsim run(s) FAILED verification:' % (lab, len(r.failed)))
            for f in r.failed[:5]:
                print('  ' + f)
    print('\nTimes are medians over repetitions; [min..max] is the spread. '
          'Smaller is faster.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
