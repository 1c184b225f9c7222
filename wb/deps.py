"""Install the Debian packages the workbench needs, when missing.

PROGRAMS is every program the workbench and its self-tests run, with the
package that brings it: check() installs them before anything runs, and
a self-test runs the other self-tests with a PATH that holds only these
(wb/tests/test_deps.py), so a test needing an undeclared program fails on
every machine, not only on a fresh one.
"""
import glob
import os
import shutil
import subprocess
import sys

from . import arch as arches, paths

TOOLS = ['build-essential', 'bc', 'bison', 'flex', 'libelf-dev',
         'libssl-dev', 'python3', 'git', 'xz-utils', 'rsync', 'cpio',
         'qemu-system-x86', 'busybox-static', 'libc6-dev']

PROGRAMS = {
    'sh': 'dash', 'make': 'make', 'gcc': 'build-essential',
    # binutils, which build-essential brings: gcc runs as and ld, wb
    # profile nm and objdump
    'as': 'build-essential', 'ld': 'build-essential',
    'nm': 'build-essential', 'objdump': 'build-essential',
    'git': 'git', 'tar': 'tar', 'xz': 'xz-utils', 'cpio': 'cpio',
    'bc': 'bc', 'bison': 'bison', 'flex': 'flex', 'rsync': 'rsync',
    'perl': 'perl', 'qemu-system-x86_64': 'qemu-system-x86',
    'dpkg-deb': 'dpkg', 'dpkg-query': 'dpkg', 'apt-get': 'apt',
}

_updated = False


def say(msg):
    print('==> ' + msg, flush=True)


def installed_version(pkg):
    r = subprocess.run(['dpkg-query', '-W', '-f=${Status} ${Version}', pkg],
                       capture_output=True, text=True)
    if r.returncode or not r.stdout.startswith('install ok installed'):
        return None
    return r.stdout.split()[-1]


def apt_update():
    global _updated
    if not _updated:
        say('apt-get update')
        # One index that fails to download (a mirror mid-sync) is not
        # fatal: apt-get install says so if it matters.
        r = subprocess.run(['apt-get', 'update', '-q'],
                           stdout=subprocess.DEVNULL)
        if r.returncode:
            print('WARNING: apt-get update failed (status %d); going on '
                  'with the indexes it has' % r.returncode, flush=True)
        _updated = True


def apt_install(specs):
    apt_update()
    say('installing ' + ' '.join(specs))
    subprocess.run(['apt-get', 'install', '-y', '-q',
                    '--no-install-recommends'] + specs, check=True,
                   env={'DEBIAN_FRONTEND': 'noninteractive',
                        'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'})


def ensure(pkgs=TOOLS):
    missing = [p for p in pkgs if not installed_version(p)]
    if missing:
        apt_install(missing)


def missing_programs(programs=PROGRAMS):
    return sorted(p for p in programs if not shutil.which(p))


def require_programs(programs=PROGRAMS):
    """Exit with a clear message if a declared program is not on PATH."""
    missing = missing_programs(programs)
    if missing:
        sys.exit('the workbench needs these programs, not found on PATH: '
                 '%s (Debian packages: %s; "make deps" installs them)' %
                 (' '.join(missing),
                  ' '.join(sorted({programs[p] for p in missing}))))


def ensure_arch(name):
    """Compiler, C library, QEMU and busybox of one arch."""
    a = arches.get(name)
    ensure(TOOLS + a.packages)
    require_programs(dict(PROGRAMS, **{a.qemu: a.packages[-1],
                                       arches.cc(a): a.packages[0]}))
    ensure_busybox(a.name)


def foreign_archs():
    r = subprocess.run(['dpkg', '--print-foreign-architectures'],
                       capture_output=True, text=True)
    return r.stdout.split()


def ensure_busybox(name):
    """busybox-static of a foreign arch, downloaded (not installed) and
    unpacked into build/busybox/<arch>.  x86_64 uses the host's."""
    a = arches.get(name)
    if a.name == 'x86_64':
        return '/bin/busybox'
    d = paths.busybox_dir(a.name)
    binary = os.path.join(d, 'bin', 'busybox')
    if os.path.exists(binary):
        return binary
    if a.debarch not in foreign_archs():
        say('dpkg --add-architecture %s (for busybox-static:%s)'
            % (a.debarch, a.debarch))
        subprocess.run(['dpkg', '--add-architecture', a.debarch],
                       check=True)
        global _updated
        _updated = False
    apt_update()
    dl = d + '.download'
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    say('downloading busybox-static:%s' % a.debarch)
    subprocess.run(['apt-get', 'download', '-q',
                    'busybox-static:' + a.debarch], cwd=dl, check=True,
                   stdout=subprocess.DEVNULL)
    deb, = glob.glob(os.path.join(dl, '*.deb'))
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run(['dpkg-deb', '-x', deb, d], check=True)
    shutil.rmtree(dl)
    if not os.path.exists(binary):
        sys.exit('busybox-static:%s has no bin/busybox' % a.debarch)
    return binary


def available_versions(pkg):
    apt_update()
    r = subprocess.run(['apt-cache', 'madison', pkg], capture_output=True,
                       text=True)
    return [l.split('|')[1].strip() for l in r.stdout.splitlines()
            if '|' in l]


def ensure_source(pkg=paths.SOURCE_PACKAGE, want=None):
    """Install the recorded version of the base source; returns it."""
    want = want or paths.base_version()
    have = installed_version(pkg)
    if have == want:
        return have
    versions = available_versions(pkg)
    if want in versions:
        apt_install(['%s=%s' % (pkg, want)])
        return want
    if not versions:
        sys.exit('%s is not in the package archive' % pkg)
    print('WARNING: %s %s (the tested version, see base-version) is no '
          'longer in the archive; using %s' % (pkg, want, versions[0]),
          flush=True)
    if have != versions[0]:
        apt_install(['%s=%s' % (pkg, versions[0])])
    return versions[0]
