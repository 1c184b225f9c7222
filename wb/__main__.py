"""Command line of the workbench; the Makefile's targets call it."""
import argparse
import sys

from . import arch, check, deps, guest, kbuild, profile, series, stress, tree


def clock_option(p, default):
    p.add_argument('--clock', choices=sorted(guest.CLOCKS), default=default,
                   help="guest clock: 'wall' (2 vCPUs, multi-threaded TCG) "
                   "or 'icount' (instruction count, 1 vCPU; steady timings)"
                   " (default %s)" % default)


def arch_option(p, default=arch.DEFAULT):
    p.add_argument('--arch', default=default,
                   help='x86_64, arm64 or i386 (default %s)' % default)


def main(argv=None):
    ap = argparse.ArgumentParser(prog='python3 -m wb')
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('deps', help='install the Debian packages needed')
    p = sub.add_parser('tree', help='build/linux: base + patches/')
    p.add_argument('--force', action='store_true')
    sub.add_parser('series', help='export base..HEAD into patches/')
    p = sub.add_parser('series-check', help='apply, checkpatch, bisect')
    p.add_argument('--bisect', action='store_true')
    p = sub.add_parser('build', help='build a kernel config')
    p.add_argument('--config', default='guest')
    arch_option(p)
    p = sub.add_parser('vm', help='run a command in the guest')
    p.add_argument('--config', default='guest')
    p.add_argument('--files', default=None)
    p.add_argument('--timeout', type=int, default=900)
    clock_option(p, 'wall')
    arch_option(p)
    p.add_argument('command')
    p = sub.add_parser('shell', help='interactive guest shell')
    p.add_argument('--config', default='guest')
    clock_option(p, 'wall')
    arch_option(p)
    p = sub.add_parser('check', help='the test suite')
    p.add_argument('--arch', default='all',
                   help="'all' (default: %s, one after another) or a "
                   "comma-separated list" % ', '.join(arch.ARCHES))
    sub.add_parser('host', help='the selftest on the host kernel')
    p = sub.add_parser('stress', help='stress, fuzzer, fault injection')
    p.add_argument('--config', default='debug')
    p.add_argument('--seed', type=int, default=stress.SEED)
    p.add_argument('--pages', type=int, default=stress.PAGES)
    p.add_argument('--calls', type=int, default=stress.CALLS)
    p.add_argument('--rounds', type=int, default=stress.ROUNDS)
    p.add_argument('--timeout', type=int, default=stress.TIMEOUT)
    arch_option(p)
    p = sub.add_parser('bench', help='benchmarks in the guest')
    p.add_argument('--ref', default=None, help='also upstream, e.g. 6.12')
    clock_option(p, check.BENCH_CLOCK)
    arch_option(p)
    p = sub.add_parser('profile', help='where a one-page move spends its '
                       'guest instructions')
    p.add_argument('--ref', default=None, help='also upstream, e.g. 6.12')
    p.add_argument('--calls', type=int, default=profile.CALLS,
                   help='a multiple of %d (default %d)'
                   % (profile.PAGES, profile.CALLS))
    p.add_argument('--annotate', action='append', default=[],
                   metavar='FUNC', help="also FUNC's disassembly with the "
                   'runs per call of each instruction (repeatable)')
    arch_option(p)
    a = ap.parse_args(argv)

    if a.cmd == 'deps':
        for name in arch.ARCHES:
            deps.ensure_arch(name)
        deps.ensure_source()
    elif a.cmd == 'tree':
        deps.ensure()
        tree.make(force=a.force)
    elif a.cmd == 'series':
        series.export()
    elif a.cmd == 'series-check':
        deps.ensure()
        series.check(bisect=a.bisect)
    elif a.cmd == 'build':
        deps.ensure_arch(a.arch)
        check.ensure_tree()
        kbuild.build(a.config, arch=arch.get(a.arch).name)
    elif a.cmd == 'vm':
        return check.vm(a.config, a.command, a.files, a.timeout, a.clock,
                        arch=arch.get(a.arch).name)
    elif a.cmd == 'shell':
        return check.shell(a.config, a.clock, arch=arch.get(a.arch).name)
    elif a.cmd == 'check':
        return check.check(a.arch)
    elif a.cmd == 'bench':
        return check.bench(a.ref, a.clock, arch=arch.get(a.arch).name)
    elif a.cmd == 'profile':
        return profile.profile(a.ref, arch=a.arch, calls=a.calls,
                               annotate_funcs=a.annotate)
    elif a.cmd == 'host':
        return check.host()
    elif a.cmd == 'stress':
        return stress.stress(a.config, a.seed, a.pages, a.calls, a.rounds,
                             a.timeout, arch=a.arch)
    return 0


if __name__ == '__main__':
    sys.exit(main())
