"""Boot a kernel under QEMU (software emulation) and run one command.

The guest is an initramfs: busybox, the project's init and test runner,
the static binaries of build/obj/<config>/guest-bin, and per run a small
archive with the command and a directory of files.  The console log is
kept; the command's exit status comes back on the "WB-EXIT:" line.
"""
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

from . import arch as arches, cpio, paths, results

BUSYBOX = '/bin/busybox'
QEMU = arches.get().qemu
MEMORY = '2048'
CPUS = '2'
SWAP_BYTES = 512 << 20
CMDLINE = 'panic=-1 printk.time=1 transparent_hugepage=madvise'
# The guest's clock, and the vCPUs that go with it.  'wall': multi-threaded
# TCG, the guest clock follows the host's (noisy on a shared machine).
# 'icount': the clock counts guest instructions, 1 ns each, so timings are
# steady and do not depend on the host's load; TCG is then single-threaded
# and, with QEMU 7.2, 6.1's second vCPU never comes up, so the guest gets
# one vCPU.  bench/README.md has the measurements.
CLOCKS = {'wall': ([], CPUS),
          'icount': (['-icount', 'shift=0,sleep=off'], '1')}
# On the wall clock every x86 kernel reads the HPET: under MTTCG 6.1 finds
# the TSC unstable and takes the HPET, while 6.12 keeps a TSC it may have
# calibrated 15x off on a busy host, so their times would not compare
# (bench/README.md, move_contend_mt).
WALL_CLOCKSOURCE = {'x86_64': 'clocksource=hpet', 'i386': 'clocksource=hpet'}


def busybox(arch='x86_64'):
    """The static busybox of arch: the host's for x86_64, else the one
    deps.ensure_busybox() unpacked."""
    if arch == 'x86_64':
        return BUSYBOX
    return os.path.join(paths.busybox_dir(arch), 'bin', 'busybox')


def base_archive(bindirs, arch='x86_64'):
    """busybox, init, runner and the static test binaries."""
    a = cpio.Archive()
    for d in ('proc', 'sys', 'dev', 'tmp', 'root', 'wb/bin'):
        a.dir(d)
    a.chardev('dev/console', 5, 1)
    a.copy('bin/busybox', busybox(arch), 0o755)
    a.copy('init', os.path.join(paths.GUEST, 'init'), 0o755)
    for f in sorted(os.listdir(paths.GUEST)):
        if f != 'init':
            a.copy('wb/bin/' + f, os.path.join(paths.GUEST, f), 0o755)
    for d in bindirs:
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                p = os.path.join(d, f)
                if os.path.isfile(p) and os.access(p, os.X_OK):
                    a.copy('wb/bin/' + f, p, 0o755)
    return a.bytes()


def run_archive(cmd, files):
    a = cpio.Archive()
    if cmd is not None:
        a.file('wb/cmd', cmd + '\n', 0o755)
    if files:
        a.copytree('wb/files', files)
    return a.bytes()


def clock_argv(clock):
    """The QEMU options that make one of CLOCKS."""
    if clock not in CLOCKS:
        raise ValueError('unknown clock %r (known: %s)'
                         % (clock, ', '.join(CLOCKS)))
    icount, cpus = CLOCKS[clock]
    return icount + ['-smp', cpus]


def qemu_argv(kernel, initrd, swap, interactive=False, extra_append='',
              clock='wall', arch='x86_64'):
    a = arches.get(arch)
    cmdline = 'console=%s %s %s' % (a.console, CMDLINE, extra_append)
    if clock == 'wall' and a.name in WALL_CLOCKSOURCE:
        cmdline = cmdline.strip() + ' ' + WALL_CLOCKSOURCE[a.name]
    argv = ([a.qemu, '-accel', 'tcg'] + clock_argv(clock) + a.machine +
            ['-m', MEMORY, '-no-reboot',
             '-kernel', kernel, '-initrd', initrd,
             '-append', cmdline.strip()])
    if swap:
        argv += [o.format(swap) for o in a.swap]
    if interactive:
        argv += ['-nographic']
    else:
        argv += ['-display', 'none', '-monitor', 'none', '-serial', 'stdio']
    return argv


class Run:
    """Outcome of one boot: console lines, exit status, timeout flag."""

    def __init__(self, lines, status, timed_out, log):
        self.lines, self.status, self.timed_out, self.log = (
            lines, status, timed_out, log)

    def splats(self):
        return results.splats(self.lines)

    def ok(self):
        return (not self.timed_out and self.status == 0
                and not self.splats())


def capture(argv, log, timeout, echo=None):
    """Run argv, keep its output in log, kill it after timeout seconds."""
    lines, timed_out = [], False
    deadline = time.monotonic() + timeout
    with open(log, 'w') as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        buf = b''
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                proc.kill()
                break
            r, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if not r:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b'\n')
            for raw in done:
                line = raw.decode('utf-8', 'replace')
                lines.append(line)
                out.write(line + '\n')
                if echo:
                    echo(line)
            out.flush()
        if buf:
            lines.append(buf.decode('utf-8', 'replace'))
            out.write(lines[-1] + '\n')
        proc.wait()
        proc.stdout.close()
    return lines, timed_out


def boot(config, cmd=None, files=None, timeout=600, echo=None,
         interactive=False, log=None, bindirs=(), clock='wall',
         arch='x86_64', qemu_extra=(), append=''):
    """Boot the kernel of config; run cmd with files; return a Run.
    qemu_extra: more QEMU options; append: more kernel parameters."""
    a = arches.get(arch)
    kernel = os.path.join(paths.obj(config, a.name), a.image)
    if not os.path.exists(kernel):
        sys.exit('no kernel at %s: build it first' % kernel)
    log = log or os.path.join(paths.obj(config, a.name), 'console.log')
    with tempfile.TemporaryDirectory(prefix='wb-guest-') as tmp:
        initrd = os.path.join(tmp, 'initrd.cpio')
        with open(initrd, 'wb') as f:
            f.write(base_archive(bindirs, a.name))
            f.write(run_archive(cmd, files))
        swap = os.path.join(tmp, 'swap.img')
        with open(swap, 'wb') as f:
            f.truncate(SWAP_BYTES)
        argv = qemu_argv(kernel, initrd, swap, interactive,
                         extra_append=append, clock=clock,
                         arch=a.name) + list(qemu_extra)
        if interactive:
            rc = subprocess.call(argv)
            return Run([], rc, False, None)
        lines, timed_out = capture(argv, log, timeout, echo)
    return Run(lines, results.exit_status(lines), timed_out, log)


def have_qemu(arch='x86_64'):
    return shutil.which(arches.get(arch).qemu) is not None
