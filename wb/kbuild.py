"""Configure and build the kernel out of tree, one object dir a config
and architecture.

A config is a list of fragments of configs/ merged over allnoconfig with
the kernel's own scripts/kconfig/merge_config.sh.  guest.config is the
x86_64 machine: another arch uses guest-<arch>.config instead.  Every
other fragment F.config is followed by F-<arch>.config when that exists
(debug-i386.config adds DEBUG_KMAP_LOCAL_FORCE_MAP to debug.config).
"""
import hashlib
import os
import subprocess
import sys

from . import arch as arches, paths

CONFIGS = {
    'guest': ['guest.config'],
    'debug': ['guest.config', 'debug.config'],
    'kasan': ['guest.config', 'debug.config', 'kasan.config'],
    'nothp': ['guest.config', 'debug.config', 'nothp.config'],
    'bisect': ['guest.config'],
    'ref-6.12': ['guest.config'],
}


def say(msg):
    print('==> ' + msg, flush=True)


# The fragment that describes the machine itself, per arch.
MACHINE = 'guest.config'


def fragments(config, arch='x86_64', configs=paths.CONFIGS):
    if config not in CONFIGS:
        sys.exit('unknown config %r (known: %s)' %
                 (config, ', '.join(sorted(CONFIGS))))
    out = []
    for f in CONFIGS[config]:
        own = '%s-%s.config' % (f[:-len('.config')], arch)
        if f == MACHINE and arch != 'x86_64':
            out.append(own)
            continue
        out.append(f)
        if os.path.exists(os.path.join(configs, own)):
            out.append(own)
    return [os.path.join(configs, f) for f in out]


def fingerprint(config, arch='x86_64'):
    h = hashlib.sha256()
    for f in fragments(config, arch):
        with open(f, 'rb') as fp:
            h.update(fp.read())
    return h.hexdigest()


def unmet(merge_output, lacks=()):
    """Options merge_config.sh asked for but Kconfig did not give, less
    those the arch is known to lack and those asked to be off that are
    absent (an option whose dependencies are off is not written)."""
    lines = merge_output.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith('Value requested for'):
            continue
        option = line.split()[3]
        asked = lines[i + 1] if i + 1 < len(lines) else ''
        if asked.endswith(' is not set') or option[len('CONFIG_'):] in lacks:
            continue
        out.append(option)
    return out


def configure(config, tree=paths.TREE, arch='x86_64'):
    a = arches.get(arch)
    obj = paths.obj(config, a.name)
    stamp = os.path.join(obj, '.wb-config')
    want = fingerprint(config, a.name)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return obj
    os.makedirs(obj, exist_ok=True)
    say('configuring %s kernel for %s in %s' % (config, a.name, obj))
    env = dict(os.environ, ARCH=a.karch, CROSS_COMPILE=a.cross)
    env.pop('MAKEFLAGS', None)
    r = subprocess.run(['scripts/kconfig/merge_config.sh', '-n', '-O', obj]
                       + fragments(config, a.name), cwd=tree,
                       capture_output=True, text=True, env=env)
    missing = unmet(r.stdout + r.stderr, a.lacks)
    if a.lacks:
        print('    %s: Kconfig offers no %s on this arch' %
              (a.name, ', '.join(a.lacks)), flush=True)
    if missing and config.startswith('ref-') and not r.returncode:
        print('WARNING: %s lacks %s' % (config, ' '.join(missing)))
        missing = []
    if r.returncode or missing:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        sys.exit('config %s: Kconfig did not accept: %s' %
                 (config, ' '.join(missing) or '(merge failed)'))
    with open(stamp, 'w') as f:
        f.write(want)
    return obj


def make(config, targets, log_name, tree=paths.TREE, quiet=True,
         arch='x86_64'):
    a = arches.get(arch)
    obj = paths.obj(config, a.name)
    log = os.path.join(obj, log_name)
    argv = (['make', '-C', tree, 'O=' + obj, '-j%d' % os.cpu_count()] +
            arches.kmake_vars(a) + targets)
    with open(log, 'w') as out:
        r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode:
        with open(log) as f:
            sys.stderr.write(''.join(f.readlines()[-40:]))
        sys.exit('kernel build failed (%s); full log: %s' %
                 (' '.join(targets), log))
    return log


def image(config, arch='x86_64'):
    a = arches.get(arch)
    return os.path.join(paths.obj(config, a.name), a.image)


def build(config, tree=paths.TREE, arch='x86_64'):
    """The boot image and the uapi headers; incremental after the first
    time."""
    a = arches.get(arch)
    obj = configure(config, tree, a.name)
    img = image(config, a.name)
    say('building %s kernel for %s (%s; first build takes minutes, log in '
        '%s/build.log)' % (config, a.name, 'incremental' if
                           os.path.exists(img) else 'from scratch', obj))
    make(config, [a.target], 'build.log', tree, arch=a.name)
    make(config, ['headers_install'], 'headers.log', tree, arch=a.name)
    return img


def selftest_vars(arch):
    """make variables that build selftests/vm for arch (MACHINE keeps the
    x86_64-only protection_keys rules out of a cross build)."""
    a = arches.get(arch)
    return ['CROSS_COMPILE=' + a.cross, 'ARCH=' + a.karch,
            'MACHINE=' + a.name]


def selftests(config, programs, tree=paths.TREE, arch='x86_64'):
    """Build static selftests/vm programs that exist in the tree.  Always
    rebuilt (-B): their Makefile does not know they depend on the uapi
    headers, and a stale binary hides an ABI change."""
    obj = paths.obj(config, arch)
    out = os.path.join(obj, 'guest-bin')
    os.makedirs(out, exist_ok=True)
    src = os.path.join(tree, 'tools/testing/selftests/vm')
    want = [p for p in programs if os.path.exists(os.path.join(src, p + '.c'))]
    if not want:
        return out
    say('building selftests: ' + ' '.join(want))
    log = os.path.join(obj, 'selftests.log')
    argv = ['make', '-B', '-C', src, 'OUTPUT=' + out,
            'KHDR_INCLUDES=-isystem ' + os.path.join(obj, 'usr/include'),
            'LDFLAGS=-static'] + selftest_vars(arch) + [
                os.path.join(out, p) for p in want]
    with open(log, 'w') as f:
        r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        with open(log) as f:
            sys.stderr.write(''.join(f.readlines()[-40:]))
        sys.exit('selftests build failed; full log: %s' % log)
    return out
