"""Install the Debian packages the workbench needs, when missing."""
import subprocess
import sys

from . import paths

TOOLS = ['build-essential', 'bc', 'bison', 'flex', 'libelf-dev',
         'libssl-dev', 'python3', 'git', 'xz-utils', 'rsync', 'cpio',
         'qemu-system-x86', 'busybox-static', 'libc6-dev']

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
        subprocess.run(['apt-get', 'update', '-q'], check=True,
                       stdout=subprocess.DEVNULL)
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
