import io
import os
import subprocess
import tempfile
import time
import unittest
from unittest import mock

from wb import cpio, guest


class CaptureTest(unittest.TestCase):
    def test_the_exit_status_comes_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            lines, timed_out = guest.capture(
                ['sh', '-c', 'echo hello; echo "WB-EXIT: 3"'],
                os.path.join(tmp, 'log'), 10)
        self.assertFalse(timed_out)
        self.assertEqual(lines, ['hello', 'WB-EXIT: 3'])

    @unittest.skipUnless(guest.have_qemu(), 'qemu-system-x86_64 missing')
    def test_a_hung_guest_is_killed(self):
        # No kernel: the firmware finds nothing to boot and waits forever.
        argv = [guest.QEMU, '-accel', 'tcg', '-display', 'none',
                '-monitor', 'none', '-serial', 'stdio', '-m', '64',
                '-nodefaults']
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            lines, timed_out = guest.capture(argv, os.path.join(tmp, 'log'),
                                             3)
            self.assertTrue(timed_out)
            self.assertLess(time.monotonic() - t0, 10)


class QemuArgvTest(unittest.TestCase):
    def argv(self, **kw):
        return guest.qemu_argv('bzImage', 'initrd', 'swap.img', **kw)

    def test_wall_clock_is_multi_threaded_tcg_with_two_vcpus(self):
        argv = self.argv()
        self.assertEqual(argv, self.argv(clock='wall'))
        self.assertNotIn('-icount', argv)
        self.assertEqual(argv[argv.index('-accel') + 1], 'tcg')
        self.assertEqual(argv[argv.index('-smp') + 1], '2')

    def test_icount_counts_instructions_on_one_vcpu(self):
        argv = self.argv(clock='icount')
        self.assertEqual(argv[argv.index('-icount') + 1], 'shift=0,sleep=off')
        self.assertEqual(argv[argv.index('-smp') + 1], '1')
        self.assertEqual(argv.count('-smp'), 1)
        # the rest of the machine is the same
        wall = self.argv()
        for opt in ('-accel', '-cpu', '-m', '-kernel', '-initrd',
                    '-drive', '-serial'):
            self.assertEqual(argv[argv.index(opt) + 1],
                             wall[wall.index(opt) + 1], opt)
        # but for the wall clock's clocksource
        self.assertEqual(argv[argv.index('-append') + 1] + ' clocksource=hpet',
                         wall[wall.index('-append') + 1])
        self.assertNotIn('clocksource', argv[argv.index('-append') + 1])

    def test_an_unknown_clock_is_refused(self):
        with self.assertRaises(ValueError):
            self.argv(clock='host')

    def test_the_command_line_passes_the_clock_on(self):
        from wb import __main__ as cli
        with mock.patch.object(cli.check, 'vm', return_value=0) as vm, \
                mock.patch.object(cli.check, 'bench', return_value=0) as b:
            cli.main(['vm', '--clock', 'icount', 'true'])
            cli.main(['vm', 'true'])
            cli.main(['bench', '--ref', '6.12'])
        self.assertEqual([c.args[-1] for c in vm.call_args_list],
                         ['icount', 'wall'])
        b.assert_called_once_with('6.12', cli.check.BENCH_CLOCK, arch='x86_64')
        with self.assertRaises(SystemExit), \
                mock.patch('sys.stderr', new=io.StringIO()):
            cli.main(['vm', '--clock', 'host', 'true'])


class ArchiveTest(unittest.TestCase):
    def test_cpio_lists_what_was_written(self):
        a = cpio.Archive()
        a.file('wb/cmd', 'echo hi\n', 0o755)
        a.symlink('bin/sh', 'busybox')
        a.chardev('dev/console', 5, 1)
        r = subprocess.run(['cpio', '-t', '--quiet'], input=a.bytes(),
                           capture_output=True)
        self.assertEqual(r.stdout.decode().split(),
                         ['wb', 'wb/cmd', 'bin', 'bin/sh', 'dev',
                          'dev/console'])


if __name__ == '__main__':
    unittest.main()
