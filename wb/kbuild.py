"""Configure and build the kernel out of tree, one object dir a config.

A config is a list of fragments of configs/ merged over allnoconfig with
the kernel's own scripts/kconfig/merge_config.sh.
"""
import hashlib
import os
import subprocess
import sys

from . import paths

CONFIGS = {
    'guest': ['guest.config'],
    'debug': ['guest.config', 'debug.config'],
    'bisect': ['guest.config'],
    'ref-6.12': ['guest.config'],
}


def say(msg):
    print('==> ' + msg, flush=True)


def fragments(config):
    if config not in CONFIGS:
        sys.exit('unknown config %r (known: %s)' %
                 (config, ', '.join(sorted(CONFIGS))))
    return [os.path.join(paths.CONFIGS, f) for f in CONFIGS[config]]


def fingerprint(config):
    h = hashlib.sha256()
    for f in fragments(config):
        with open(f, 'rb') as fp:
            h.update(fp.read())
    return h.hexdigest()


def unmet(merge_output):
    """Options merge_config.sh asked for but Kconfig did not give."""
    return [l.split()[3] for l in merge_output.splitlines()
            if l.startswith('Value requested for')]


def configure(config, tree=paths.TREE):
    obj = paths.obj(config)
    stamp = os.path.join(obj, '.wb-config')
    want = fingerprint(config)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return obj
    os.makedirs(obj, exist_ok=True)
    say('configuring %s kernel in %s' % (config, obj))
    r = subprocess.run(['scripts/kconfig/merge_config.sh', '-n', '-O', obj]
                       + fragments(config), cwd=tree, capture_output=True,
                       text=True)
    missing = unmet(r.stdout + r.stderr)
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


def make(config, targets, log_name, tree=paths.TREE, quiet=True):
    obj = paths.obj(config)
    log = os.path.join(obj, log_name)
    argv = ['make', '-C', tree, 'O=' + obj, '-j%d' % os.cpu_count()] + targets
    with open(log, 'w') as out:
        r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode:
        with open(log) as f:
            sys.stderr.write(''.join(f.readlines()[-40:]))
        sys.exit('kernel build failed (%s); full log: %s' %
                 (' '.join(targets), log))
    return log


def build(config, tree=paths.TREE):
    """bzImage and the uapi headers; incremental after the first time."""
    obj = configure(config, tree)
    image = os.path.join(obj, 'arch/x86/boot/bzImage')
    say('building %s kernel (%s; first build takes minutes, log in '
        '%s/build.log)' % (config, 'incremental' if os.path.exists(image)
                           else 'from scratch', obj))
    make(config, ['bzImage'], 'build.log', tree)
    make(config, ['headers_install'], 'headers.log', tree)
    return image


def selftests(config, programs, tree=paths.TREE):
    """Build static selftests/vm programs that exist in the tree.  Always
    rebuilt (-B): their Makefile does not know they depend on the uapi
    headers, and a stale binary hides an ABI change."""
    obj = paths.obj(config)
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
            'LDFLAGS=-static'] + [os.path.join(out, p) for p in want]
    with open(log, 'w') as f:
        r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        with open(log) as f:
            sys.stderr.write(''.join(f.readlines()[-40:]))
        sys.exit('selftests build failed; full log: %s' % log)
    return out
