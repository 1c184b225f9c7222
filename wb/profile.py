"""Where a one-page UFFDIO_MOVE spends its guest instructions.

QEMU's TCG plugin bench/qprof.c counts the runs of every translated
block while the guest (icount clock, one vCPU, no KASLR) runs the loop of
bench/move-one: CALLS one-page moves between two marks.  Divided by CALLS
that is the cost of one call, the loop's few user instructions and the
timer ticks included; the kernel's System.map names the functions.
--annotate FUNC prints FUNC's disassembly (objdump of vmlinux) with the
runs per call of each instruction that ran.
"""
import bisect
import collections
import os
import re
import subprocess
import sys

from . import arch as arches, check, deps, guest, kbuild, paths

CALLS = 12800           # a multiple of move-one's 64 pages
PAGES = 64              # move-one's default
PLUGIN_SRC = os.path.join(paths.ROOT, 'bench', 'qprof.c')
USER = '[user space]'


def plugin():
    """The plugin, built for the host when its source is newer."""
    so = os.path.join(paths.BUILD, 'prof', 'qprof.so')
    if (not os.path.exists(so)
            or os.path.getmtime(so) < os.path.getmtime(PLUGIN_SRC)):
        os.makedirs(os.path.dirname(so), exist_ok=True)
        subprocess.check_call(['gcc', '-O2', '-shared', '-fPIC', '-Wall',
                               '-Wextra', '-o', so, PLUGIN_SRC])
    return so


def programs(arch):
    """The programs wb profile runs, with their Debian packages: the
    host's gcc builds the plugin, the arch's binutils read the guest
    program and the kernel."""
    a = arches.get(arch)
    return {'gcc': 'build-essential', a.cross + 'nm': a.packages[0],
            a.cross + 'objdump': a.packages[0]}


def block_lines(path):
    """[(vaddr, instructions, runs)] of one plugin output: a block of that
    many instructions at vaddr ran that many times between the marks."""
    with open(path) as f:
        return [(int(v, 16), int(n), int(c))
                for v, n, c in (line.split() for line in f)]


def read_blocks(path):
    """{block address: instructions run there} of one plugin output."""
    run = collections.Counter()
    for vaddr, insns, count in block_lines(path):
        run[vaddr] += insns * count
    return run


class Symbols:
    """The kernel's text symbols, from a System.map."""

    def __init__(self, system_map):
        syms = []
        with open(system_map) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[1] in ('t', 'T', 'w', 'W'):
                    syms.append((int(fields[0], 16), fields[2]))
        syms.sort()
        self.addrs = [a for a, _ in syms]
        self.names = [n for _, n in syms]

    def name(self, addr):
        """The function addr is in; USER below the kernel's text."""
        if addr < self.addrs[0]:
            return USER
        return self.names[bisect.bisect_right(self.addrs, addr) - 1]

    def ranges(self, name):
        """[(start, end)] of each text symbol called name: end is the next
        symbol's address (the last symbol has no end and is left out)."""
        out = []
        for addr, n in zip(self.addrs, self.names):
            if n == name:
                i = bisect.bisect_right(self.addrs, addr)
                if i < len(self.addrs):
                    out.append((addr, self.addrs[i]))
        return out


def by_function(blocks, symbols):
    out = collections.Counter()
    for addr, n in blocks.items():
        out[symbols.name(addr)] += n
    return out


MARKS = ('profile_start', 'profile_stop')


def parse_marks(nm_output, program='move-one'):
    """The addresses (hex, as nm prints them) of profile_start() and
    profile_stop() in nm's output for program."""
    found = {}
    for line in nm_output.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] in MARKS:
            found[f[2]] = f[0]
    missing = [m for m in MARKS if m not in found]
    if missing:
        sys.exit('%s has no %s: the plugin needs both marks'
                 % (program, ' or '.join(missing)))
    return found[MARKS[0]], found[MARKS[1]]


def marks(program, arch):
    """The addresses of program's profile_start() and profile_stop()."""
    out = subprocess.check_output([arches.get(arch).cross + 'nm', program],
                                  text=True)
    return parse_marks(out, program)


def blocks_file(config, arch):
    """Where the plugin writes the blocks of config's kernel."""
    return os.path.join(paths.BUILD, 'prof', '%s-%s.txt' % (config, arch))


def system_map(config, arch):
    return os.path.join(paths.obj(config, arch), 'System.map')


def map_file(config, arch):
    """The copy of the System.map of the kernel that was profiled."""
    return os.path.join(paths.BUILD, 'prof', '%s-%s.map' % (config, arch))


def read(path):
    with open(path) as f:
        return f.read()


def same_kernel(config, arch):
    """Whether config's kernel is still the one profiled: another make
    may relink it meanwhile, which is harmless while its System.map does
    not change."""
    return (os.path.exists(map_file(config, arch))
            and read(system_map(config, arch)) == read(map_file(config, arch)))


def per_call(config, arch, bindirs, calls=CALLS):
    """{function: guest instructions per call} of config's kernel."""
    out = blocks_file(config, arch)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.exists(out):
        os.remove(out)          # not to read an earlier run's
    start, stop = marks(os.path.join(paths.userspace(arch), 'move-one'), arch)
    deps.say('profiling %d one-page moves in the %s %s guest'
             % (calls, arch, config))
    kernel = read(system_map(config, arch))
    run = guest.boot(config, cmd='/wb/bin/move-one %d' % calls,
                     timeout=900, bindirs=bindirs, clock='icount', arch=arch,
                     qemu_extra=['-plugin', '%s,out=%s,start=%s,stop=%s'
                                 % (plugin(), out, start, stop)],
                     append='nokaslr')
    if not run.ok():
        sys.exit('move-one %d in the %s guest failed (status %s); console '
                 'log: %s' % (calls, config, run.status, run.log))
    if not os.path.exists(out):
        sys.exit('%s: the plugin wrote nothing (console log: %s)'
                 % (out, run.log))
    with open(out) as f:
        if f.readline().startswith('#'):
            sys.exit('%s: the plugin did not see both marks' % out)
    if read(system_map(config, arch)) != kernel:
        sys.exit('the %s kernel was rebuilt while it was profiled: run the '
                 'profile again' % config)
    with open(map_file(config, arch), 'w') as f:
        f.write(kernel)
    loop = read_blocks(out)
    funcs = by_function(loop, Symbols(map_file(config, arch)))
    return {f: n / calls for f, n in funcs.items()}


def report(names, profiles, rows=45, out=None):
    """Side by side, instructions per call: the total; the functions by
    cost in the first profile, then those of the others that the first
    lacks (only those of 2 or more in some profile, at most rows); what
    the rows leave out."""
    out = out or sys.stdout

    def total(p):
        return sum(p.values())

    order = sorted(profiles[0], key=lambda f: (-profiles[0][f], f))
    for p in profiles[1:]:
        seen = set(order)
        order += sorted((f for f in p if f not in seen),
                        key=lambda f: (-p[f], f))
    shown = [f for f in order if max(abs(p.get(f, 0)) for p in profiles)
             >= 2][:rows]
    w = max([len(f) for f in shown] + [len('(the rest)')])
    cols = [max(10, len(n)) for n in names]

    def row(label, fmt, values):
        out.write('%-*s %s\n' % (w, label, ' '.join(
            fmt % (c, v) for c, v in zip(cols, values))))

    row('function', '%*s', names)
    row('per call', '%*.0f', [total(p) for p in profiles])
    for f in shown:
        row(f, '%*.1f', [p.get(f, 0) for p in profiles])
    row('(the rest)', '%*.1f',
        [total(p) - sum(p.get(f, 0) for f in shown) for p in profiles])


# objdump -d --no-show-raw-insn: "ffffffff8115f550:\tpush   %r15"
INSN = re.compile(r'^\s*([0-9a-f]+):\t(.*)$')


def parse_objdump(text):
    """[(address, instruction)] of objdump -d --no-show-raw-insn output."""
    insns = []
    for line in text.splitlines():
        m = INSN.match(line)
        if m:
            insns.append((int(m.group(1), 16),
                          m.group(2).expandtabs().rstrip()))
    return insns


def spread(blocks, insns):
    """Runs of each instruction of insns (a function's disassembly) from
    blocks [(vaddr, instructions, runs)]: a block adds its runs to the
    instructions from vaddr on, as many as it has (those past the end of
    insns are lost).  Blocks that start outside insns are left out; those
    that start inside but not on an instruction (the running kernel
    patched itself: alternatives, static keys) are returned apart.
    Returns (runs per instruction, [misplaced blocks])."""
    runs = [0] * len(insns)
    misplaced = []
    if not insns:
        return runs, misplaced
    index = {addr: i for i, (addr, _) in enumerate(insns)}
    for vaddr, n, count in blocks:
        i = index.get(vaddr)
        if i is None:
            if insns[0][0] <= vaddr <= insns[-1][0]:
                misplaced.append((vaddr, n, count))
            continue
        for j in range(i, min(i + n, len(insns))):
            runs[j] += count
    return runs, misplaced


def per_call_text(x):
    """Runs per call, 10 wide: two decimals, or two digits of what is
    rarer than that (an instruction run once in 640 calls is no 0.00)."""
    return '%10.2f' % x if x >= 0.005 else '%10.1e' % x


def annotation(insns, runs, calls):
    """Lines of the instructions that ran: runs per call, address,
    instruction; "..." stands for each stretch of those that did not."""
    lines = []
    skipped = False
    for (addr, text), n in zip(insns, runs):
        if not n:
            skipped = True
            continue
        if skipped:
            lines.append('%10s  ...' % '')
            skipped = False
        lines.append('%s  %x:  %s' % (per_call_text(n / calls), addr, text))
    if skipped and lines:
        lines.append('%10s  ...' % '')
    return lines


def disassemble(config, arch, start, end):
    """objdump -d of config's vmlinux from start to end."""
    vmlinux = os.path.join(paths.obj(config, arch), 'vmlinux')
    return subprocess.check_output(
        [arches.get(arch).cross + 'objdump', '-d', '--no-show-raw-insn',
         '--start-address=0x%x' % start, '--stop-address=0x%x' % end,
         vmlinux], text=True)


def annotate(func, config, name, arch, calls, out=None):
    """func's instructions that ran in config's kernel, per call."""
    out = out or sys.stdout
    if not same_kernel(config, arch):
        out.write('%s: the %s kernel changed after it was profiled, not '
                  'annotated: run the profile again\n' % (func, config))
        return
    ranges = Symbols(map_file(config, arch)).ranges(func)
    if not ranges:
        out.write('%s: not a text symbol of %s (%s)\n' % (func, name, config))
        return
    blocks = block_lines(blocks_file(config, arch))
    for start, end in ranges:
        insns = parse_objdump(disassemble(config, arch, start, end))
        runs, misplaced = spread(blocks, insns)
        here = sum(n * c for v, n, c in blocks if start <= v < end)
        out.write('==> %s in %s (%s), %x..%x: %.1f instructions per call\n'
                  % (func, name, config, start, end, here / calls))
        for line in annotation(insns, runs, calls) or ['%10s  (did not run)'
                                                       % '']:
            out.write(line + '\n')
        if misplaced:
            out.write('%d blocks start between the instructions of vmlinux '
                      '(the kernel patched that code at boot?), left out: '
                      '%s\n' % (len(misplaced), ' '.join(
                          '%x' % v for v, _, _ in misplaced)))
        past = here - sum(runs) - sum(n * c for _, n, c in misplaced)
        if past:
            out.write('%.1f per call ran on past %x (the next symbol), not '
                      'shown\n' % (past / calls, end))
    out.flush()


def profile(ref=None, arch='x86_64', calls=CALLS, annotate_funcs=()):
    a = arches.get(arch).name
    if calls <= 0 or calls % PAGES:
        sys.exit('--calls must be a positive multiple of %d (move-one\'s '
                 'pages), not %d' % (PAGES, calls))
    bindirs = check.prepare('guest', a)
    deps.require_programs(programs(a))
    configs = [('guest', 'ours')]
    if ref:
        kbuild.build('ref-' + ref, check.ref_tree(ref), arch=a)
        configs.append(('ref-' + ref, 'upstream-' + ref))
    for func in annotate_funcs:
        if not any(Symbols(system_map(c, a)).ranges(func)
                   for c, _ in configs):
            sys.exit('--annotate %s: no kernel has such a function' % func)
    profiles = [per_call(c, a, bindirs, calls) for c, _ in configs]
    names = [n for _, n in configs]
    deps.say('guest instructions per one-page UFFDIO_MOVE, by function '
             '(%s, %d calls)' % (a, calls))
    report(names, profiles)
    if ref:
        ratio = sum(profiles[0].values()) / sum(profiles[1].values())
        print('ours/upstream-%s: %.2f' % (ref, ratio))
    for func in annotate_funcs:
        for config, name in configs:
            annotate(func, config, name, a, calls)
    return 0
