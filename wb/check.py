"""make check: workbench self-tests, then the series' tests in the
debug guest of each architecture, one after another, counted together
into one "N passed, N failed" line."""
import io
import os
import subprocess
import sys
import time
import unittest

from . import arch as arches, deps, guest, kbuild, paths, results, tree

SELFTESTS = ['uffd-move', 'userfaultfd', 'mremap_test', 'mremap_dontunmap']
USERSPACE = paths.userspace()
GUEST_TIMEOUT = int(os.environ.get('TIMEOUT', '1800'))
# The guest clock of make bench unless CLOCK= says otherwise: see "Which
# clock the report uses" in bench/README.md.
BENCH_CLOCK = 'icount'


def report(tally, ok, name, detail=None, skip=False):
    tally.add(results.Result(ok, name, skip))
    print('%s - %s%s' % ('ok' if ok else 'not ok', name,
                         ' # SKIP' if skip else ''), flush=True)
    if detail and not ok:
        for line in detail:
            print('    ' + line)


def workbench_selftests(tally):
    deps.say('workbench self-tests')
    suite = unittest.defaultTestLoader.discover(
        os.path.join(paths.ROOT, 'wb', 'tests'), top_level_dir=paths.ROOT)
    ids = [t.id() for t in iter_tests(suite)]
    res = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(
        suite)
    bad = {t.id(): tb for t, tb in res.failures + res.errors}
    for i in ids:
        report(tally, i not in bad, 'workbench: ' + i.split('.', 2)[-1],
               bad.get(i, '').splitlines()[-6:])


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def ensure_tree():
    if not os.path.isdir(os.path.join(paths.TREE, '.git')):
        tree.make()
        return
    have = tree.git(paths.TREE, 'rev-list', '--count', 'base..HEAD',
                    capture=True).stdout.strip()
    deps.say('using %s as it is (%s commits after base)' % (paths.TREE, have))


def build_userspace(arch='x86_64'):
    """The project's own static programs (workload, benchmarks, demo),
    built with arch's compiler into build/bin (x86_64) or build/bin-<arch>.
    """
    a = arches.get(arch)
    out = paths.userspace(a.name)
    for d in ('demo', 'workload', 'bench'):
        mk = os.path.join(paths.ROOT, d, 'Makefile')
        if os.path.exists(mk):
            r = subprocess.run(['make', '-s', '-C', os.path.dirname(mk),
                                'OUT=' + out, 'CC=' + arches.cc(a)],
                               capture_output=True, text=True)
            if r.returncode:
                sys.stderr.write(r.stdout + r.stderr)
                sys.exit('building %s for %s failed' % (d, a.name))
    return out


def prepare(config, arch='x86_64'):
    deps.ensure_arch(arch)
    ensure_tree()
    kbuild.build(config, arch=arch)
    bins = kbuild.selftests(config, SELFTESTS, arch=arch)
    return [bins, build_userspace(arch)]


def echo_program_output(line):
    line = results.clean(line)
    if not results.is_kernel(line) and not line.startswith(
            results.EXIT_MARKER):
        print('  | ' + line, flush=True)


def judge_boot(tally, run, what, prefix=''):
    """The two checks every boot gets: it finished, and the log is clean."""
    if run.timed_out:
        report(tally, False, prefix + '%s finished before the timeout' % what,
               ['guest killed; last console lines:'] +
               [results.clean(l) for l in run.lines[-30:]])
    else:
        report(tally, run.status is not None,
               prefix + '%s ran to completion' % what,
               ['no exit status; last console lines:'] +
               [results.clean(l) for l in run.lines[-30:]])
    found = run.splats()
    detail = []
    for s in found:
        detail += ['---- splat ----'] + s
    report(tally, not found, prefix + 'kernel log of %s is clean' % what,
           detail)
    print('    console log: %s' % run.log)


class Clock:
    """Wall-clock phases of one arch's run: build, boot, suite."""

    def __init__(self):
        self.marks = [('start', time.monotonic())]

    def mark(self, name):
        self.marks.append((name, time.monotonic()))

    def spans(self):
        return [(name, t - t0) for (_, t0), (name, t) in
                zip(self.marks, self.marks[1:])]

    def line(self):
        return ', '.join('%s %d s' % (n, s) for n, s in self.spans())


# Kernels make check boots besides each arch's debug kernel: (arch,
# config, the guest's command).  nothp: the debug kernel without THP, as
# PREEMPT_RT builds it, for the move's own tests.
VARIANTS = [('x86_64', 'nothp', 'run-tests uffd-move')]


def check_arch(tally, arch, config='debug', cmd='run-tests'):
    """Build the config kernel of arch once, boot it, run cmd's suite;
    every result is named "<arch>: ..." (or "<arch> <config>: ...").  A
    failed build is one failed result, and the other arches still run."""
    prefix = arch + ': ' if config == 'debug' else '%s %s: ' % (arch, config)
    clock = Clock()
    try:
        bindirs = prepare(config, arch)
    except SystemExit as e:
        report(tally, False, prefix + 'the %s kernel and the tests build'
               % config, [str(e)])
        return clock
    clock.mark('build')
    deps.say('booting the %s %s kernel under QEMU (TCG) to run the tests'
             % (arch, config))

    def echo(line):
        if len(clock.marks) == 2 and results.clean(line).startswith(
                '# run:'):
            clock.mark('boot')
        echo_program_output(line)
    run = guest.boot(config, cmd=cmd, timeout=GUEST_TIMEOUT,
                     echo=echo, bindirs=bindirs, arch=arch)
    if len(clock.marks) == 2:
        clock.mark('boot')
    clock.mark('suite')
    for r in results.tap_results(results.program_output(run.lines)):
        report(tally, r.ok, prefix + r.name, skip=r.skip)
    judge_boot(tally, run, 'the test guest', prefix)
    return clock


def check(arch_spec=None):
    """The workbench self-tests, then each arch of arch_spec (default:
    all) in turn, one summary line for everything."""
    names = arches.names(arch_spec)
    # What the self-tests run (cpio, QEMU) is installed before they run.
    deps.ensure()
    deps.require_programs()
    tally = results.Tally()
    workbench_selftests(tally)
    times = []
    for name in names:
        times.append((name, check_arch(tally, name)))
    for name, config, cmd in VARIANTS:
        if name in names:
            times.append(('%s %s' % (name, config),
                          check_arch(tally, name, config, cmd)))
    for name, clock in times:
        print('%s: %s' % (name, clock.line()))
    print(tally.line(), flush=True)
    return 1 if tally.failed else 0


def vm(config, cmd, files, timeout, clock='wall', arch='x86_64'):
    bindirs = prepare(config, arch)
    deps.say('booting the %s %s kernel (clock %s): %s'
             % (arch, config, clock, cmd))
    run = guest.boot(config, cmd=cmd, files=files, timeout=timeout,
                     echo=echo_program_output, bindirs=bindirs, clock=clock,
                     arch=arch)
    found = run.splats()
    for s in found:
        print('---- kernel splat ----\n' + '\n'.join(s))
    if run.timed_out:
        print('guest killed after %d s; console tail:' % timeout)
        print('\n'.join(results.clean(l) for l in run.lines[-30:]))
        return 124
    print('==> exit status %s; console log: %s' % (run.status, run.log))
    if run.status is None:
        return 125
    return run.status or (1 if found else 0)


def shell(config, clock='wall', arch='x86_64'):
    bindirs = prepare(config, arch)
    deps.say('booting the %s %s kernel; leave with "poweroff" or Ctrl-A X'
             % (arch, config))
    guest.boot(config, interactive=True, bindirs=bindirs, clock=clock,
               arch=arch)
    return 0


def host():
    """The same uffd-move binary on the host: the reference kernel."""
    deps.ensure()
    ensure_tree()
    kbuild.configure('debug')
    kbuild.make('debug', ['headers_install'], 'headers.log')
    binary = os.path.join(kbuild.selftests('debug', ['uffd-move']),
                          'uffd-move')
    if not os.path.exists(binary):
        sys.exit('no uffd-move selftest in the series yet')
    deps.say('running %s on the host kernel (%s)' %
             (binary, os.uname().release))
    tally = results.Tally()
    r = subprocess.run([binary], capture_output=True, text=True)
    sys.stdout.write(r.stdout + r.stderr)
    for t in results.tap_results(r.stdout.splitlines()):
        tally.add(t)
    if r.returncode not in (0, 4) and not tally.failed:
        tally.failed += 1
    print(tally.line())
    return 1 if tally.failed else 0


REF_TREES = {'6.12': ('linux-source-6.12', '/usr/src/linux-source-6.12.tar.xz')}


def ref_tree(ref):
    """An upstream baseline tree (unpacked, not patched) for benchmarks."""
    if ref not in REF_TREES:
        sys.exit('unknown REF %r (known: %s)' % (ref, ', '.join(REF_TREES)))
    pkg, tarball = REF_TREES[ref]
    path = os.path.join(paths.BUILD, 'ref-' + ref)
    if not os.path.isdir(path):
        deps.ensure([pkg])
        deps.say('unpacking %s into %s' % (tarball, path))
        tmp = path + '.unpack'
        os.makedirs(tmp, exist_ok=True)
        subprocess.run(['tar', 'xf', tarball, '-C', tmp], check=True)
        top, = os.listdir(tmp)
        os.rename(os.path.join(tmp, top), path)
        os.rmdir(tmp)
    return path


# The cases that need a second vCPU, which icount cannot give the 6.1 guest:
# they run in a guest of their own on the wall clock.
MT_CMD = ('/wb/bin/uffd-bench --cases move_contig_mt,copy_contig_mt,'
          'move_contend_mt --reps 3')


def bench_once(config, bindirs, out, clock, cmd='sh run-guest.sh',
               arch='x86_64'):
    deps.say('benchmarks in the %s %s guest, clock %s (minutes under TCG)'
             % (arch, config, clock))
    run = guest.boot(config, cmd=cmd,
                     files=os.path.join(paths.ROOT, 'bench'),
                     timeout=GUEST_TIMEOUT, echo=echo_program_output,
                     bindirs=bindirs, clock=clock, arch=arch)
    with open(out, 'w') as f:
        f.write('# wb: guest clock %s: %s\n'
                % (clock, ' '.join(guest.clock_argv(clock))))
        f.write('\n'.join(results.program_output(run.lines)) + '\n')
    if not run.ok():
        for s in run.splats():
            print('---- kernel splat ----\n' + '\n'.join(s))
        sys.exit('benchmark run in %s failed (status %s); console log: %s'
                 % (config, run.status, run.log))
    return out


def bench(ref=None, clock=BENCH_CLOCK, arch='x86_64'):
    outdir = os.path.join(paths.BUILD, 'bench' if arch == 'x86_64'
                          else 'bench-' + arch)
    os.makedirs(outdir, exist_ok=True)
    bindirs = prepare('guest', arch)
    configs = [('guest', 'ours')]
    if ref:
        configs.append(('ref-' + ref, 'upstream-' + ref))
        kbuild.build('ref-' + ref, ref_tree(ref), arch=arch)
    files, mt_files = [], []
    for config, name in configs:
        files.append(bench_once(config, bindirs,
                                os.path.join(outdir, name + '.txt'), clock,
                                arch=arch))
        if clock != 'wall':
            mt_files.append(bench_once(
                config, bindirs, os.path.join(outdir, name + '-mt.txt'),
                'wall', cmd=MT_CMD, arch=arch))
    deps.say('guest clock: %s (see bench/README.md)' % clock)
    rc = bench_report(files)
    if mt_files:
        deps.say('the _mt cases on the wall clock with 2 vCPUs: their time '
                 'is noisy, TLB IPIs/page is the steady figure')
        rc = bench_report(mt_files) or rc
    return rc


def bench_report(files):
    return subprocess.call([sys.executable,
                            os.path.join(paths.ROOT, 'bench', 'report.py')]
                           + files)
