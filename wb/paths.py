"""Where things live.  Everything generated stays under build/."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, 'build')
TREE = os.path.join(BUILD, 'linux')
PATCHES = os.path.join(ROOT, 'patches')
CONFIGS = os.path.join(ROOT, 'configs')
GUEST = os.path.join(ROOT, 'guest')
BASE_VERSION_FILE = os.path.join(ROOT, 'base-version')
SOURCE_PACKAGE = 'linux-source-6.1'
SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz'


def obj(config, arch='x86_64'):
    """Out-of-tree object directory of one kernel config: build/obj/<config>
    for x86_64, build/obj/<config>-<arch> for the others."""
    return os.path.join(BUILD, 'obj',
                        config if arch == 'x86_64' else config + '-' + arch)


def userspace(arch='x86_64'):
    """The project's static programs built for arch."""
    return os.path.join(BUILD, 'bin' if arch == 'x86_64' else 'bin-' + arch)


def busybox_dir(arch):
    """Where busybox-static of a foreign arch is unpacked."""
    return os.path.join(BUILD, 'busybox', arch)


def base_version():
    with open(BASE_VERSION_FILE) as f:
        return f.read().split()[0]
