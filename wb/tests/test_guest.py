import os
import subprocess
import tempfile
import time
import unittest

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
