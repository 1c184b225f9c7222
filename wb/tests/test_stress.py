import io
import unittest
from contextlib import redirect_stdout
from unittest import mock

from wb import guest, stress


def fake_run(lines, status=0, timed_out=False):
    return guest.Run(lines + ['WB-EXIT: %d' % status], status, timed_out,
                     '/dev/null')


class StressTest(unittest.TestCase):
    def run_stress(self, run, **kw):
        out = io.StringIO()
        with mock.patch.object(stress.deps, 'ensure_arch'), \
                mock.patch.object(stress.check, 'ensure_tree'), \
                mock.patch.object(stress.kbuild, 'build'), \
                mock.patch.object(stress.check, 'build_userspace',
                                  return_value='/nonexistent'), \
                mock.patch.object(stress.guest, 'boot',
                                  return_value=run) as boot, \
                redirect_stdout(out):
            rc = stress.stress(**kw)
        return rc, out.getvalue(), boot.call_args

    def test_the_default_budget_meets_the_issue(self):
        self.assertGreaterEqual(stress.PAGES, 1000000)
        self.assertGreaterEqual(stress.CALLS, 1000000)
        rc, out, call = self.run_stress(fake_run(['ok - moved']))
        self.assertIn('PAGES=1000000', call.kwargs['cmd'])
        self.assertIn('CALLS=1000000', call.kwargs['cmd'])
        self.assertIn('run-stress', call.kwargs['cmd'])
        self.assertEqual(rc, 0)
        self.assertTrue(out.rstrip().endswith('3 passed, 0 failed'), out)

    def test_a_failed_check_fails(self):
        rc, out, _ = self.run_stress(fake_run(['ok - a', 'not ok - b']))
        self.assertEqual(rc, 1)
        self.assertTrue(out.rstrip().endswith('3 passed, 1 failed'), out)

    def test_a_kernel_splat_fails(self):
        rc, out, _ = self.run_stress(fake_run(
            ['ok - a', '[   12.000000] BUG: KASAN: use-after-free in x']))
        self.assertEqual(rc, 1)
        self.assertIn('not ok - kernel log of the stress guest is clean',
                      out)

    def test_a_hung_guest_fails(self):
        rc, out, _ = self.run_stress(guest.Run(['ok - a'], None, True,
                                               '/dev/null'))
        self.assertEqual(rc, 1)
        self.assertIn('not ok - the stress guest finished before the '
                      'timeout', out)

    def test_budgets_and_config_reach_the_guest(self):
        _, _, call = self.run_stress(fake_run([]), config='kasan', seed=7,
                                     pages=5, calls=6, rounds=2)
        self.assertEqual(call.args[0], 'kasan')
        for want in ('SEED=7', 'PAGES=5', 'CALLS=6', 'ROUNDS=2'):
            self.assertIn(want, call.kwargs['cmd'])


if __name__ == '__main__':
    unittest.main()
