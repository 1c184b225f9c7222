"""patches/ <-> build/linux: export the series, check it applies cleanly,
passes checkpatch and builds at every prefix."""
import glob
import os
import re
import shutil
import subprocess
import sys

from . import deps, kbuild, paths, tree

CHECKPATCH_IGNORE = os.path.join(paths.CONFIGS, 'checkpatch.ignore')
CHECK_TREE = os.path.join(paths.BUILD, 'series-check')


def export(src=paths.TREE, patches=paths.PATCHES):
    n = int(tree.git(src, 'rev-list', '--count', 'base..HEAD',
                     capture=True).stdout)
    if not n:
        sys.exit('%s has no commits after "base": nothing to export' % src)
    branch = tree.git(src, 'symbolic-ref', '--short', 'HEAD',
                      capture=True).stdout.strip()
    desc = tree.git(src, 'config', 'branch.%s.description' % branch,
                    check=False, capture=True).stdout
    if not desc.strip():
        tree.set_cover(src, patches)
    os.makedirs(patches, exist_ok=True)
    for p in glob.glob(os.path.join(patches, '*.patch')):
        os.remove(p)
    tree.git(src, 'format-patch', '-q', '-o', patches, '--cover-letter',
             '--cover-from-description=subject', '--no-signature',
             '--zero-commit', 'base..HEAD')
    deps.say('exported %d patches and the cover letter to %s' % (n, patches))


def ignored_types(patch, path=CHECKPATCH_IGNORE):
    """checkpatch message types accepted for this patch.  Each line of the
    file is "TYPE [PATCH-NAME-PART] # reason": without a name part the type
    is accepted in every patch."""
    if not os.path.exists(path):
        return []
    types = []
    with open(path) as f:
        for line in f:
            words = line.split('#')[0].split()
            if words and (len(words) == 1 or words[1] in
                          os.path.basename(patch)):
                types.append(words[0])
    return types


def checkpatch(src, patch):
    """(problems, output) of checkpatch.pl --strict on one patch."""
    argv = [os.path.join(src, 'scripts/checkpatch.pl'), '--strict',
            '--root=' + src, '--show-types', '--terse']
    ign = ignored_types(patch)
    if ign:
        argv += ['--ignore', ','.join(ign)]
    r = subprocess.run(argv + [patch], capture_output=True, text=True)
    problems = [l for l in r.stdout.splitlines()
                if re.search(r'\b(ERROR|WARNING|CHECK):', l)]
    return problems, r.stdout


def fresh_tree():
    """A clean worktree at "base" with the series applied by git am."""
    if not os.path.isdir(os.path.join(paths.TREE, '.git')):
        tree.make()
    tree.git(paths.TREE, 'worktree', 'remove', '--force', CHECK_TREE,
             check=False, capture=True)
    shutil.rmtree(CHECK_TREE, ignore_errors=True)
    tree.git(paths.TREE, 'worktree', 'prune')
    tree.git(paths.TREE, 'worktree', 'add', '-q', '--detach', CHECK_TREE,
             'base')
    series = tree.series_files()
    try:
        tree.apply(CHECK_TREE, series)
    except tree.PatchError as e:
        sys.exit('patch %s does not apply to a clean base; failing files: '
                 '%s' % (e.patch, ', '.join(e.files) or '?'))
    deps.say('all %d patches apply to a clean base' % len(series))
    return series


def check(bisect=False):
    series = fresh_tree()
    passed = failed = 0
    for p in series:
        problems, _ = checkpatch(CHECK_TREE, p)
        print('%s checkpatch %s' % ('not ok' if problems else 'ok',
                                    os.path.basename(p)))
        for l in problems:
            print('    ' + l)
        failed += bool(problems)
        passed += not problems
    if bisect:
        bad = build_prefixes()
        failed += bad
        passed += len(series) - bad
    print('%d passed, %d failed' % (passed, failed))
    if failed:
        sys.exit(1)


def build_prefixes():
    """Build the guest kernel at every prefix of the series."""
    failed = 0
    commits = tree.git(CHECK_TREE, 'rev-list', '--reverse', 'base..HEAD',
                       capture=True).stdout.split()
    for i, c in enumerate(commits, 1):
        tree.git(CHECK_TREE, 'checkout', '-q', c)
        subject = tree.git(CHECK_TREE, 'log', '-1', '--format=%s',
                           capture=True).stdout.strip()
        deps.say('building prefix %d/%d: %s' % (i, len(commits), subject))
        kbuild.configure('bisect', CHECK_TREE)
        r = subprocess.run(['make', '-C', CHECK_TREE,
                            'O=' + paths.obj('bisect'),
                            '-j%d' % os.cpu_count(), 'bzImage'],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        print('%s build %d %s' % ('not ok' if r.returncode else 'ok',
                                  i, subject))
        if r.returncode:
            sys.stdout.write(r.stderr[-3000:])
            failed += 1
    return failed
