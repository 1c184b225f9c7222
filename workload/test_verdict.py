"""Unit tests of verdict.awk, the MOVE-vs-COPY verdict of `make run`.

    cd workload && python3 -m unittest test_verdict

Runs the script with the host's awk and, where it is installed, with
busybox awk (the guest's).
"""
import os
import shutil
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, 'verdict.awk')


def awks():
    found = []
    if shutil.which('awk'):
        found.append(['awk'])
    bb = shutil.which('busybox') or (
        '/bin/busybox' if os.path.exists('/bin/busybox') else None)
    if bb:
        found.append([bb, 'awk'])
    return found


def gc(mode, rep, ms, verify='ok'):
    return ('workload=gcsim mode=%s heap_bytes=16777216 heap_mib=16 threads=2 '
            'fault_mode=thread rep=%d pages=2073 compaction_ms=%.3f '
            'lat_median_us=1.0 lat_p99_us=2.0 verify=%s' % (mode, rep, ms, verify))


def runs(copy, move, **kw):
    """gcsim lines as gcsim prints them: per repetition COPY then MOVE."""
    lines = ['# workload=gcsim kernel=6.1 uffd_move=1 clock_res_ns=100']
    for i, (c, m) in enumerate(zip(copy, move), 1):
        lines.append(gc('copy', i, c))
        lines.append(gc('move', i, m, kw.get('verify', 'ok')))
    lines.append('workload=gcsim mode=summary heap_mib=16 reps=%d '
                 'move_over_copy=0.5 verify=ok' % len(copy))
    return '\n'.join(lines) + '\n'


class VerdictTest(unittest.TestCase):
    def verdict(self, text, *args):
        outs = []
        self.assertTrue(awks(), 'no awk on this machine')
        for awk in awks():
            r = subprocess.run(awk + list(args) + ['-f', SCRIPT], input=text,
                               capture_output=True, text=True)
            outs.append((r.returncode, r.stdout))
        # every awk says the same
        for o in outs[1:]:
            self.assertEqual(o, outs[0])
        return outs[0]

    def test_move_faster(self):
        rc, out = self.verdict(runs([100, 110, 105, 120, 98],
                                    [45, 50, 47, 60, 44]))
        self.assertEqual(rc, 0)
        self.assertIn('copy compaction time, ms: 105 [98.0..120] over 5 runs', out)
        self.assertIn('move compaction time, ms: 47.0 [44.0..60.0] over 5 runs', out)
        # pairs: 0.45 0.4545 0.4476 0.5 0.449 -> median 0.449
        self.assertIn('MOVE/COPY compaction time: 0.45 [0.45..0.50] over 5 pairs',
                      out)
        self.assertIn('verdict: MOVE is faster than COPY', out)

    def test_copy_faster(self):
        rc, out = self.verdict(runs([10, 11, 12], [20, 21, 30]))
        self.assertEqual(rc, 0)
        self.assertIn('verdict: COPY is faster than MOVE', out)
        self.assertIn('MOVE/COPY 1.91 to 2.50', out)

    def test_overlap_is_uncertain(self):
        # the busy machine: one MOVE run starved by the host
        rc, out = self.verdict(runs([1100, 1000, 1200], [400, 21000, 380]))
        self.assertEqual(rc, 0)
        self.assertIn('verdict: uncertain', out)
        self.assertIn('overlap', out)
        self.assertNotIn('MOVE/COPY compaction time: 0', out)
        # every pair below 1 but the ranges overlap: still uncertain
        rc, out = self.verdict(runs([100, 200, 300], [90, 190, 290]))
        self.assertIn('verdict: uncertain', out)

    def test_too_few_pairs(self):
        rc, out = self.verdict(runs([100, 110], [40, 45]))
        self.assertEqual(rc, 0)
        self.assertIn('verdict: uncertain: too few runs', out)
        rc, out = self.verdict(runs([100, 110], [40, 45]), '-v', 'MIN_REPS=2')
        self.assertIn('verdict: MOVE is faster', out)

    def test_failed_verification(self):
        rc, out = self.verdict(runs([100, 110, 120], [40, 45, 50],
                                    verify='FAILED'))
        self.assertEqual(rc, 1)
        self.assertIn('verdict: none: a run failed verification', out)

    def test_no_runs(self):
        rc, out = self.verdict('kernel: 6.1\nnothing here\n')
        self.assertEqual(rc, 2)
        self.assertIn('verdict: none', out)
        # copy only (a kernel without UFFDIO_MOVE: gcsim drops move mode)
        rc, out = self.verdict(gc('copy', 1, 10.0) + '\n')
        self.assertEqual(rc, 2)

    def test_pairs_by_repetition(self):
        # MOVE rep 2 goes with COPY rep 2, whatever the order of the lines
        text = '\n'.join([gc('move', 2, 30), gc('copy', 1, 100),
                          gc('copy', 2, 60), gc('move', 1, 20),
                          gc('copy', 3, 80), gc('move', 3, 40)]) + '\n'
        rc, out = self.verdict(text)
        # ratios 0.2, 0.5, 0.5
        self.assertIn('MOVE/COPY compaction time: 0.50 [0.20..0.50] over 3 pairs',
                      out)
        self.assertIn('verdict: MOVE is faster', out)


if __name__ == '__main__':
    unittest.main()
