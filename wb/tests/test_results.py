import unittest

from wb import results

BOOT_OK = """\
[    0.000000] Linux version 6.1.0 (root@vm) #1 SMP PREEMPT_DYNAMIC
[    0.011000] rcu: 	RCU lockdep checking is enabled.
[    0.012000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc.
[    0.150000] kfence: initialized - using 2097152 bytes for 255 objects
[    1.000000] Run /init as init process
TAP version 13
1..3
# Starting 3 tests from 1 test cases.
ok 1 uffd_move.present_page_moves
not ok 2 uffd_move.zero_page_moves
ok 3 uffd_move.ksm_page_is_busy # SKIP KSM not available
ok - userfaultfd anon
WB-EXIT: 0
""".splitlines()

SPLAT = """\
[    5.100000] ------------[ cut here ]------------
[    5.100001] WARNING: CPU: 1 PID: 77 at mm/userfaultfd.c:123 move_pages+0x1/0x2
[    5.100002] Modules linked in:
[    5.100003] Call Trace:
[    5.100004]  <TASK>
[    5.100005] ---[ end trace 0000000000000000 ]---
ok 1 something
[    6.000000] BUG: Bad rss-counter state mm:0000 type:MM_ANONPAGES val:1
""".splitlines()


class TapTest(unittest.TestCase):
    def test_a_failing_tap_line_is_counted_as_failed(self):
        t = results.Tally()
        for r in results.tap_results(BOOT_OK):
            t.add(r)
        self.assertEqual((t.passed, t.failed, t.skipped), (2, 1, 1))
        self.assertEqual(t.line(), '2 passed, 1 failed, 1 skipped')

    def test_names_drop_numbers_and_directives(self):
        names = [r.name for r in results.tap_results(BOOT_OK)]
        self.assertEqual(names, ['uffd_move.present_page_moves',
                                 'uffd_move.zero_page_moves',
                                 'uffd_move.ksm_page_is_busy',
                                 'userfaultfd anon'])

    def test_a_skip_without_name_takes_the_name_of_the_running_test(self):
        r = results.tap_results(['#  RUN           move.pinned_is_ebusy ...',
                                 '#      SKIP      no gup_test',
                                 'ok 63 # SKIP no gup_test'])
        self.assertEqual((r[0].name, r[0].skip), ('move.pinned_is_ebusy',
                                                  True))

    def test_indented_subtest_lines_are_not_counted(self):
        self.assertEqual(results.tap_results(['    ok 1 nested']), [])

    def test_exit_status_is_read_from_the_marker(self):
        self.assertEqual(results.exit_status(BOOT_OK), 0)
        self.assertEqual(results.exit_status(['WB-EXIT: 3\r']), 3)
        self.assertIsNone(results.exit_status(BOOT_OK[:-1]))


class SplatTest(unittest.TestCase):
    def test_a_clean_boot_has_no_splat(self):
        self.assertEqual(results.splats(BOOT_OK), [])

    def test_a_warning_is_caught_with_its_excerpt(self):
        found = results.splats(SPLAT)
        self.assertEqual(len(found), 2)
        self.assertIn('mm/userfaultfd.c:123', found[0][0])
        self.assertIn('end trace', found[0][-1])
        self.assertIn('Bad rss-counter', found[1][0])

    def test_program_output_mentioning_a_warning_is_not_a_splat(self):
        self.assertEqual(results.splats(['# WARNING: BUG: test said']), [])

    def test_each_kind_of_splat_is_caught(self):
        for text in ('BUG: KASAN: use-after-free', 'Bad page state',
                     'watchdog: BUG: soft lockup - CPU#0 stuck',
                     'INFO: task a.out:80 blocked for more than 60 seconds.',
                     'WARNING: possible circular locking dependency',
                     'BUG: KFENCE: out-of-bounds read',
                     'general protection fault, probably for non-canonical',
                     'Oops: 0000 [#1] PREEMPT SMP'):
            self.assertTrue(results.splats(['[    1.0] ' + text]), text)


if __name__ == '__main__':
    unittest.main()
