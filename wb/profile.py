"""Where a one-page UFFDIO_MOVE spends its guest instructions.

QEMU's TCG plugin bench/qprof.c counts the runs of every translated
block while the guest (icount clock, one vCPU, no KASLR) runs the loop of
bench/move-one: CALLS one-page moves between two marks.  Divided by CALLS
that is the cost of one call, the loop's few user instructions and the
timer ticks included; the kernel's System.map names the functions.
"""
import bisect
import collections
import os
import subprocess
import sys

from . import arch as arches, check, deps, guest, kbuild, paths

CALLS = 12800           # a multiple of move-one's 64 pages
PLUGIN_SRC = os.path.join(paths.ROOT, 'bench', 'qprof.c')
USER = '[user space]'


def plugin():
    """The plugin, built for the host when its source is newer."""
    so = os.path.join(paths.BUILD, 'prof', 'qprof.so')
    if (not os.path.exists(so)
            or os.path.getmtime(so) < os.path.getmtime(PLUGIN_SRC)):
        os.makedirs(os.path.dirname(so), exist_ok=True)
        subprocess.check_call(['gcc', '-O2', '-shared', '-fPIC', '-Wall',
                               '-o', so, PLUGIN_SRC])
    return so


def read_blocks(path):
    """{block address: instructions run there} of one plugin output."""
    run = collections.Counter()
    with open(path) as f:
        for line in f:
            vaddr, insns, count = line.split()
            run[int(vaddr, 16)] += int(insns) * int(count)
    return run


class Symbols:
    """The kernel's text symbols, from a System.map."""

    def __init__(self, system_map):
        syms = []
        with open(system_map) as f:
            for line in f:
                addr, kind, name = line.split()[:3]
                if kind in 'tTwW':
                    syms.append((int(addr, 16), name))
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]

    def name(self, addr):
        if addr < self.addrs[0]:
            return USER
        return self.names[bisect.bisect_right(self.addrs, addr) - 1]


def by_function(blocks, symbols):
    out = collections.Counter()
    for addr, n in blocks.items():
        out[symbols.name(addr)] += n
    return out


def marks(program, arch):
    """The addresses of program's profile_start() and profile_stop()."""
    out = subprocess.check_output([arches.get(arch).cross + 'nm', program],
                                  text=True)
    found = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] in ('profile_start', 'profile_stop'):
            found[f[2]] = f[0]
    return found['profile_start'], found['profile_stop']


def per_call(config, arch, bindirs, calls=CALLS):
    """{function: guest instructions per call} of config's kernel."""
    outdir = os.path.join(paths.BUILD, 'prof')
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, '%s-%s.txt' % (config, arch))
    start, stop = marks(os.path.join(paths.userspace(arch), 'move-one'), arch)
    deps.say('profiling %d one-page moves in the %s %s guest'
             % (calls, arch, config))
    run = guest.boot(config, cmd='/wb/bin/move-one %d' % calls,
                     timeout=900, bindirs=bindirs, clock='icount', arch=arch,
                     qemu_extra=['-plugin', '%s,out=%s,start=%s,stop=%s'
                                 % (plugin(), out, start, stop)],
                     append='nokaslr')
    if not run.ok():
        sys.exit('move-one %d in the %s guest failed (status %s); console '
                 'log: %s' % (calls, config, run.status, run.log))
    with open(out) as f:
        if f.readline().startswith('#'):
            sys.exit('%s: the plugin did not see both marks' % out)
    loop = read_blocks(out)
    symbols = Symbols(os.path.join(paths.obj(config, arch), 'System.map'))
    funcs = by_function(loop, symbols)
    return {f: n / calls for f, n in funcs.items()}


def report(names, profiles, rows=45, out=sys.stdout):
    """Side by side: the functions by cost in the first profile, then
    those of the others that the first lacks."""
    def total(p):
        return sum(p.values())

    order = sorted(profiles[0], key=lambda f: -profiles[0][f])
    for p in profiles[1:]:
        order += sorted((f for f in p if f not in profiles[0]),
                        key=lambda f: -p[f])
    shown = [f for f in order if max(abs(p.get(f, 0)) for p in profiles)
             >= 2][:rows]
    w = max([len(f) for f in shown] + [8])
    out.write('%-*s %s\n' % (w, 'function',
                             ' '.join('%10s' % n for n in names)))
    out.write('%-*s %s\n' % (w, 'per call',
                             ' '.join('%10.0f' % total(p) for p in profiles)))
    for f in shown:
        out.write('%-*s %s\n' % (w, f, ' '.join(
            '%10.1f' % p.get(f, 0) for p in profiles)))
    rest = [total(p) - sum(p.get(f, 0) for f in shown) for p in profiles]
    out.write('%-*s %s\n' % (w, '(the rest)',
                             ' '.join('%10.1f' % r for r in rest)))


def profile(ref=None, arch='x86_64', calls=CALLS):
    a = arches.get(arch).name
    bindirs = check.prepare('guest', a)
    configs = [('guest', 'ours')]
    if ref:
        kbuild.build('ref-' + ref, check.ref_tree(ref), arch=a)
        configs.append(('ref-' + ref, 'upstream-' + ref))
    profiles = [per_call(c, a, bindirs, calls) for c, _ in configs]
    names = [n for _, n in configs]
    deps.say('guest instructions per one-page UFFDIO_MOVE, by function '
             '(%s, %d calls)' % (a, calls))
    report(names, profiles)
    if ref:
        ratio = sum(profiles[0].values()) / sum(profiles[1].values())
        print('ours/upstream-%s: %.2f' % (ref, ratio))
    return 0
