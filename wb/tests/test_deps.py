"""The self-tests need only what the workbench declares (issue 10: a
test that ran cpio passed everywhere cpio happened to be installed)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from wb import deps, paths

NESTED = 'WB_SELFTEST_MINIMAL_PATH'


class ProgramsTest(unittest.TestCase):
    def test_a_missing_program_is_named_with_its_package(self):
        with mock.patch('shutil.which', return_value=None), \
                self.assertRaises(SystemExit) as e:
            deps.require_programs({'cpio': 'cpio'})
        self.assertIn('cpio', str(e.exception))
        self.assertIn('make deps', str(e.exception))

    def test_every_declared_program_comes_from_an_installed_tool(self):
        pkgs = set(deps.TOOLS) | {'dash', 'make', 'tar', 'perl', 'dpkg',
                                  'apt'}
        for prog, pkg in deps.PROGRAMS.items():
            self.assertIn(pkg, pkgs, prog)

    @unittest.skipIf(os.environ.get(NESTED), 'already inside the nested run')
    def test_the_self_tests_pass_with_only_the_declared_programs(self):
        with tempfile.TemporaryDirectory() as bindir:
            os.symlink(sys.executable, os.path.join(bindir, 'python3'))
            for prog in deps.PROGRAMS:
                path = shutil.which(prog)
                if path:
                    os.symlink(path, os.path.join(bindir, prog))
            env = dict(os.environ, PATH=bindir, **{NESTED: '1'})
            r = subprocess.run(
                [sys.executable, '-m', 'unittest', 'discover', '-s',
                 'wb/tests', '-t', '.'], cwd=paths.ROOT, env=env,
                capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, 'with PATH holding only %s:\n%s'
                         % (' '.join(sorted(deps.PROGRAMS)),
                            r.stderr[-3000:]))


if __name__ == '__main__':
    unittest.main()
