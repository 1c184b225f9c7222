"""Unit tests of report.py (python3 -m unittest test_report)."""
import io
import os
import tempfile
import unittest
from contextlib import redirect_stdout

import report

OURS = """\
[   12.345678] random kernel line
# bench=uffd-bench kernel=6.1.99 uffd_move=1 thp=madvise pages=64 reps=3
case=move_contig pages=64 page_bytes=4096 reps=3 ns_per_page_median=100.0 min=90.0 max=120.0 q1=95 q3=110\r
case=copy_contig pages=64 page_bytes=4096 reps=3 ns_per_page_median=400.0 min=380.0 max=500.0 q1=390 q3=450
case=thp_move_pmd skipped=thp_never
workload=gcsim mode=copy heap_mib=8 threads=2 recycle=0 compaction_ms=20.0 lat_median_us=10 lat_p99_us=50 verify=ok
workload=gcsim mode=copy heap_mib=8 threads=2 recycle=0 compaction_ms=30.0 lat_median_us=12 lat_p99_us=70 verify=ok
workload=gcsim mode=copy heap_mib=8 threads=2 recycle=0 compaction_ms=25.0 lat_median_us=11 lat_p99_us=60 verify=ok
workload=gcsim mode=move heap_mib=8 threads=2 recycle=1 compaction_ms=10.0 lat_median_us=5 lat_p99_us=20 verify=ok
workload=gcsim mode=summary heap_mib=8 reps=1 move_over_copy=0.4 verify=ok
"""
UPS = """\
# bench=uffd-bench kernel=6.12.0 uffd_move=1 thp=always
case=move_contig pages=64 page_bytes=4096 reps=3 ns_per_page_median=50.0 min=45.0 max=60.0 q1=1 q3=2
case=move_contig pages=64 page_bytes=4096 reps=3 ns_per_page_median=70.0 min=40.0 max=80.0 q1=1 q3=2
workload=gcsim mode=move heap_mib=8 threads=2 recycle=1 compaction_ms=12.0 verify=FAILED
"""


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.ours = os.path.join(self.dir.name, 'ours.txt')
        self.ups = os.path.join(self.dir.name, 'ups.txt')
        with open(self.ours, 'w') as f:
            f.write(OURS)
        with open(self.ups, 'w') as f:
            f.write(UPS)

    def tearDown(self):
        self.dir.cleanup()

    def test_parse(self):
        r = report.Results(self.ours)
        self.assertEqual(r.meta['kernel'], '6.1.99')
        self.assertEqual(r.rows['move_contig']['median'], 100.0)
        self.assertEqual(r.rows['move_contig']['lo'], 90.0)
        self.assertIsNone(r.rows['thp_move_pmd']['median'])
        self.assertEqual(r.rows['gcsim copy 8M t2 time']['median'], 25.0)
        self.assertEqual(r.rows['gcsim copy 8M t2 time']['lo'], 20.0)
        self.assertEqual(r.rows['gcsim copy 8M t2 time']['hi'], 30.0)
        self.assertAlmostEqual(r.rows['gcsim MOVE/COPY 8M t2']['median'], 0.4)
        self.assertAlmostEqual(r.rows['MOVE/COPY contig']['median'], 0.25)
        self.assertEqual(r.failed, [])

    def test_merge_and_failed(self):
        r = report.Results(self.ups)
        self.assertEqual(r.rows['move_contig']['median'], 60.0)
        self.assertEqual(r.rows['move_contig']['lo'], 40.0)
        self.assertEqual(r.rows['move_contig']['hi'], 80.0)
        self.assertEqual(len(r.failed), 1)

    def test_compare(self):
        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = report.main([self.ours, self.ups])
        self.assertEqual(rc, 0)
        out = buf.getvalue()
        line = [l for l in out.splitlines() if l.startswith('move_contig ')][0]
        self.assertIn('1.67', line)          # 100 / 60
        self.assertIn('FAILED verification', out)

    def test_sibling_cases(self):
        # the _mt cases: their own rows (extra keys ignored), the MOVE/COPY
        # ratio with a sibling thread running, and each against its
        # single-threaded case (the TLB shootdown cost)
        path = os.path.join(self.dir.name, 'mt.txt')
        with open(path, 'w') as f:
            f.write(OURS + """\
case=move_contig_mt pages=64 page_bytes=4096 reps=3 rounds=3 ns_per_page_median=300.0 min=280.0 max=350.0 q1=290 q3=320 mover_cpu=0 sibling_cpu=1 sibling_passes_min=12 tlb_ipis_per_page=0.5
case=copy_contig_mt pages=64 page_bytes=4096 reps=3 rounds=3 ns_per_page_median=500.0 min=450.0 max=600.0 q1=480 q3=550 mover_cpu=0 sibling_cpu=1 sibling_passes_min=40
""")
        r = report.Results(path)
        self.assertEqual(r.rows['move_contig_mt']['median'], 300.0)
        self.assertEqual(r.rows['copy_contig_mt']['hi'], 600.0)
        self.assertAlmostEqual(
            r.rows['MOVE/COPY contig, sibling on 2nd CPU']['median'], 0.6)
        self.assertAlmostEqual(r.rows['MOVE contig, sibling/alone']['median'], 3.0)
        self.assertAlmostEqual(r.rows['COPY contig, sibling/alone']['median'], 1.25)
        self.assertEqual(r.rows['move_contig_mt']['note'], 'TLB IPIs/page 0.5')
        # one CPU: the cases are skipped, the ratios left out
        with open(path, 'w') as f:
            f.write(OURS + 'case=move_contig_mt skipped=one_cpu\n'
                    'case=copy_contig_mt skipped=one_cpu\n')
        r = report.Results(path)
        self.assertIsNone(r.rows['move_contig_mt']['median'])
        self.assertEqual(r.rows['copy_contig_mt']['note'], 'skipped: one_cpu')
        self.assertNotIn('MOVE contig, sibling/alone', r.rows)
        self.assertIn('MOVE/COPY contig', r.rows)

    def test_gc_cpu(self):
        # thread faults: collector + handler CPU per run; not for sigbus
        path = os.path.join(self.dir.name, 'cpu.txt')
        with open(path, 'w') as f:
            for ms, c, h in ((40.0, 10.0, 11.0), (45.0, 12.0, 11.0),
                             (50.0, 11.0, 13.0)):
                f.write('workload=gcsim mode=move heap_mib=32 threads=2 '
                        'recycle=1 fault_mode=thread compaction_ms=%s '
                        'cpu_collector_ms=%s cpu_handler_ms=%s verify=ok\n'
                        % (ms, c, h))
            f.write('workload=gcsim mode=move heap_mib=32 threads=2 recycle=1 '
                    'fault_mode=sigbus compaction_ms=30 cpu_collector_ms=9 '
                    'cpu_handler_ms=0.01 verify=ok\n')
        r = report.Results(path)
        row = r.rows['gcsim move 32M t2 GC CPU']
        self.assertEqual((row['median'], row['lo'], row['hi']), (23.0, 21.0, 24.0))
        self.assertNotIn('gcsim move 32M t2 sigbus GC CPU', r.rows)
        self.assertIn('gcsim move 32M t2 sigbus time', r.rows)

    def test_contend_case(self):
        # move_contend_mt: the move's and the writer's latencies get rows of
        # their own; a comparison gives each its ours/upstream ratio
        line = ('case=move_contend_mt pages=32 page_bytes=4096 reps=3 rounds=3 '
                'ns_per_page_median=%d min=1 max=9 q1=2 q3=3 move_p50_ns=%d '
                'move_p99_ns=%d move_alone_p50_ns=900 move_alone_p99_ns=2000 '
                'writer_p50_ns=%d writer_p99_ns=50000 writer_alone_p50_ns=4000 '
                'writer_alone_p99_ns=9000 moves=96 writer_pairs=%d '
                'writer_alone_pairs=40 mover_cpu=0 sibling_cpu=1\n')
        ours = os.path.join(self.dir.name, 'c1.txt')
        ups = os.path.join(self.dir.name, 'c2.txt')
        with open(ours, 'w') as f:
            f.write(line % (1000, 1000, 30000, 8000, 12))
            f.write(line % (1200, 1200, 50000, 6000, 10))
        with open(ups, 'w') as f:
            f.write(line % (1000, 1000, 3000, 4000, 30))
        r = report.Results(ours)
        self.assertEqual(r.rows['move_contend_mt']['median'], 1100.0)
        row = r.rows['move_contend_mt move p99, writer running']
        self.assertEqual((row['median'], row['lo'], row['hi'], row['unit']),
                         (40000.0, 30000.0, 50000.0, 'ns/call'))
        self.assertEqual(
            r.rows['move_contend_mt mmap+munmap median, mover running']['median'],
            7000.0)
        self.assertEqual(
            r.rows['move_contend_mt mmap+munmap median, alone']['median'], 4000.0)
        buf = io.StringIO()
        with redirect_stdout(buf):
            self.assertEqual(report.main([ours, ups]), 0)
        p99 = [l for l in buf.getvalue().splitlines()
               if l.startswith('move_contend_mt move p99, writer running')][0]
        self.assertIn('13.33', p99)      # 40000 / 3000
        # a writer that did no pair inside the together phase: no writer rows
        with open(ours, 'w') as f:
            f.write(line % (1000, 1000, 3000, 0, 0))
        r = report.Results(ours)
        self.assertNotIn('move_contend_mt mmap+munmap median, mover running',
                         r.rows)
        self.assertIn('move_contend_mt mmap+munmap median, alone', r.rows)

    def test_empty_file(self):
        empty = os.path.join(self.dir.name, 'empty.txt')
        open(empty, 'w').close()
        with redirect_stdout(io.StringIO()), \
                redirect_stdout(io.StringIO()):
            import contextlib
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(report.main([empty]), 2)
                self.assertEqual(report.main([os.path.join(self.dir.name, 'nope')]), 2)


if __name__ == '__main__':
    unittest.main()
