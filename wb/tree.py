"""build/linux: the base tree as a git repo, with patches/ applied.

The base is Debian's linux-source-6.1 unpacked and committed as one
commit tagged "base".  Debian's top-level .gitignore ends with "/*", so
the base is added with "git add -f" and new files need it too.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

from . import deps, paths

IDENTITY = ['-c', 'user.name=UFFDIO_MOVE 6.1 maintainers',
            '-c', 'user.email=uffdio-move@example.org']
COVER = '0000-cover-letter.patch'


class PatchError(Exception):
    def __init__(self, patch, files, output):
        super().__init__('%s does not apply' % patch)
        self.patch, self.files, self.output = patch, files, output


def git(tree, *args, check=True, capture=False):
    r = subprocess.run(['git', '-C', tree] + IDENTITY + list(args),
                       check=False, capture_output=capture, text=True)
    if check and r.returncode:
        if capture:
            sys.stderr.write(r.stdout + r.stderr)
        raise subprocess.CalledProcessError(r.returncode, args)
    return r


def series_files(patches=paths.PATCHES):
    return sorted(p for p in glob.glob(os.path.join(patches, '*.patch'))
                  if os.path.basename(p) != COVER)


def make_base(tree, tarball, version):
    """Unpack tarball into tree and commit it as the tag "base"."""
    parent = os.path.dirname(tree)
    os.makedirs(parent, exist_ok=True)
    tmp = tree + '.unpack'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    deps.say('unpacking %s (about 10 s)' % tarball)
    subprocess.run(['tar', 'xf', tarball, '-C', tmp], check=True)
    top, = os.listdir(tmp)
    os.rename(os.path.join(tmp, top), tree)
    os.rmdir(tmp)
    deps.say('committing the base tree (about 30 s)')
    git(tree, 'init', '-q')
    git(tree, 'add', '-f', '.')
    git(tree, 'commit', '-q', '-m', 'base: Debian %s %s' %
        (os.path.basename(tarball).split('.tar')[0], version))
    git(tree, 'tag', 'base')


def failing_files(output):
    files = []
    for m in re.finditer(r'^error: (?:patch failed: )?([^:\s]+)', output,
                         re.M):
        if m.group(1) not in files:
            files.append(m.group(1))
    return files


def apply(tree, patches):
    """git am each patch; PatchError names the first that fails."""
    for p in patches:
        r = git(tree, 'am', '-q', p, check=False, capture=True)
        if r.returncode:
            git(tree, 'am', '--abort', check=False, capture=True)
            out = r.stdout + r.stderr
            raise PatchError(os.path.basename(p), failing_files(out), out)


def set_cover(tree, patches=paths.PATCHES):
    """The cover letter's subject and text become the branch description,
    which "git format-patch --cover-from-description" turns back into it."""
    text = cover_text(os.path.join(patches, COVER))
    if text:
        branch = git(tree, 'symbolic-ref', '--short', 'HEAD',
                     capture=True).stdout.strip()
        git(tree, 'config', 'branch.%s.description' % branch, text)


def cover_text(path):
    """Subject line, blank line, body of a cover letter (no shortlog)."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = f.read().splitlines()
    subject, body, i = None, [], 0
    while i < len(lines) and lines[i]:
        if lines[i].startswith('Subject: '):
            subject = re.sub(r'^\[[^]]*\]\s*', '', lines[i][9:])
            while i + 1 < len(lines) and lines[i + 1].startswith(' '):
                i += 1
                subject += lines[i]
        i += 1
    for line in lines[i + 1:]:
        if re.match(r'^\S.*\(\d+\):$', line):
            break
        body.append(line)
    while body and not body[-1].strip():
        body.pop()
    return subject + '\n\n' + '\n'.join(body) + '\n'


def make(tree=paths.TREE, patches=paths.PATCHES, force=False):
    if os.path.isdir(os.path.join(tree, '.git')):
        if not force:
            deps.say('%s exists; "make tree FORCE=1" recreates it from '
                     'patches/ (commits not exported are lost)' % tree)
            return
        shutil.rmtree(tree)
    elif os.path.exists(tree):
        shutil.rmtree(tree)
    version = deps.ensure_source()
    make_base(tree, paths.SOURCE_TARBALL, version)
    series = series_files(patches)
    deps.say('applying %d patches from %s' % (len(series), patches))
    try:
        apply(tree, series)
    except PatchError as e:
        sys.exit('patch %s does not apply; failing files: %s\n%s' %
                 (e.patch, ', '.join(e.files) or '?', e.output.strip()))
    set_cover(tree, patches)
