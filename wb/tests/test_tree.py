import os
import subprocess
import tempfile
import unittest

from wb import tree


def sh(cwd, *argv):
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)


class ApplyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.repo = os.path.join(self.tmp.name, 'linux')
        self.patches = os.path.join(self.tmp.name, 'patches')
        os.makedirs(self.repo)
        os.makedirs(self.patches)
        with open(os.path.join(self.repo, 'a.c'), 'w') as f:
            f.write('int a;\n')
        tree.git(self.repo, 'init', '-q')
        tree.git(self.repo, 'add', '-f', '.')
        tree.git(self.repo, 'commit', '-q', '-m', 'base')
        tree.git(self.repo, 'tag', 'base')

    def tearDown(self):
        self.tmp.cleanup()

    def write_patch(self, name, old, new):
        p = os.path.join(self.patches, name)
        with open(p, 'w') as f:
            f.write('From 0000000000000000000000000000000000000000 Mon Sep '
                    '17 00:00:00 2001\nFrom: T <t@example.org>\nDate: Thu, '
                    '1 Jan 2026 00:00:00 +0000\nSubject: [PATCH] change a.c'
                    '\n\n---\n a.c | 2 +-\n\ndiff --git a/a.c b/a.c\n'
                    '--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-%s\n+%s\n'
                    % (old, new))
        return p

    def test_a_patch_that_applies_becomes_a_commit(self):
        tree.apply(self.repo, [self.write_patch('0001-a.patch', 'int a;',
                                                'int b;')])
        n = tree.git(self.repo, 'rev-list', '--count', 'base..HEAD',
                     capture=True).stdout.strip()
        self.assertEqual(n, '1')

    def test_a_patch_that_does_not_apply_is_named_with_its_files(self):
        good = self.write_patch('0001-good.patch', 'int a;', 'int b;')
        bad = self.write_patch('0002-bad.patch', 'int zzz;', 'int c;')
        before = open(bad).read()
        with self.assertRaises(tree.PatchError) as cm:
            tree.apply(self.repo, [good, bad])
        self.assertEqual(cm.exception.patch, '0002-bad.patch')
        self.assertEqual(cm.exception.files, ['a.c'])
        self.assertEqual(open(bad).read(), before)   # patches/ untouched
        status = tree.git(self.repo, 'status', '--porcelain',
                          capture=True).stdout
        self.assertEqual(status, '')                 # git am aborted


class CoverTest(unittest.TestCase):
    def test_cover_text_is_subject_and_body_without_shortlog(self):
        with tempfile.NamedTemporaryFile('w', suffix='.patch') as f:
            f.write('From 0 Mon Sep 17 00:00:00 2001\nFrom: T <t@e.org>\n'
                    'Subject: [PATCH 0/2] mm: add a\n thing\n\nWhy.\n\n'
                    'More.\n\nT (2):\n  one\n  two\n\n a.c | 1 +\n')
            f.flush()
            self.assertEqual(tree.cover_text(f.name),
                             'mm: add a thing\n\nWhy.\n\nMore.\n')


if __name__ == '__main__':
    unittest.main()
