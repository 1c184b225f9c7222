"""The architectures the workbench builds and boots, in one table.

x86_64 is the default and the quick loop.  arm64 is where Android runs
the series (QEMU's "virt" machine, 4 KiB pages, PL011 console, virtio-mmio
swap disk, PSCI reset).  i386 runs with HIGHMEM4G and HIGHPTE, so every
page table is reached through a kmap_local slot.
"""
import collections
import sys

Arch = collections.namedtuple('Arch', [
    'name',       # what ARCH= says
    'karch',      # the kernel's ARCH=
    'cross',      # CROSS_COMPILE= prefix ('' for the host)
    'debarch',    # Debian's name, for busybox-static:<debarch>
    'packages',   # Debian packages: compiler, C library, QEMU
    'image',      # the kernel image QEMU boots, relative to the object dir
    'target',     # the make target that builds it
    'qemu',       # the QEMU program
    'machine',    # QEMU options that make the machine
    'console',    # the serial console's name in the guest
    'swap',       # QEMU options for the swap disk; {} is its file
    'lacks',      # debug options Kconfig does not offer on this arch
])

X86_SWAP = ['-drive', 'file={},if=virtio,format=raw']

ARCHES = collections.OrderedDict((a.name, a) for a in [
    Arch('x86_64', 'x86', '', 'amd64',
         ['build-essential', 'libc6-dev', 'qemu-system-x86'],
         'arch/x86/boot/bzImage', 'bzImage', 'qemu-system-x86_64',
         ['-cpu', 'max'], 'ttyS0', X86_SWAP, ()),
    Arch('arm64', 'arm64', 'aarch64-linux-gnu-', 'arm64',
         ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross',
          'qemu-system-arm'],
         'arch/arm64/boot/Image', 'Image', 'qemu-system-aarch64',
         ['-machine', 'virt', '-cpu', 'max,pauth-impdef=on'], 'ttyAMA0',
         ['-drive', 'file={},if=none,id=swap,format=raw',
          '-device', 'virtio-blk-device,drive=swap'], ()),
    # -cpu max alone looks like an old AMD CPU that 6.1 calls unsuitable
    # for SMP: the taint turns lockdep off.
    Arch('i386', 'i386', 'i686-linux-gnu-', 'i386',
         ['gcc-i686-linux-gnu', 'libc6-dev-i386-cross', 'qemu-system-x86'],
         'arch/x86/boot/bzImage', 'bzImage', 'qemu-system-i386',
         ['-cpu', 'max,vendor=GenuineIntel'], 'ttyS0', X86_SWAP,
         ('PAGE_TABLE_CHECK', 'PAGE_TABLE_CHECK_ENFORCED')),
])
DEFAULT = 'x86_64'
ALIASES = {'x86': 'x86_64', 'amd64': 'x86_64', 'aarch64': 'arm64',
           'i686': 'i386', 'x86_32': 'i386'}


def get(name=None):
    """The Arch called name (or one of its aliases); exits if unknown."""
    name = ALIASES.get(name or DEFAULT, name or DEFAULT)
    if name not in ARCHES:
        sys.exit('unknown ARCH %r (known: %s)' % (name, ', '.join(ARCHES)))
    return ARCHES[name]


def names(spec):
    """ARCH= of make check: empty or 'all' is every arch, else a comma
    or space separated list."""
    if not spec or spec == 'all':
        return list(ARCHES)
    return [get(n).name for n in spec.replace(',', ' ').split()]


def cc(arch):
    return arch.cross + 'gcc'


def kmake_vars(arch):
    """The variables every kernel make gets: explicit, so that an ARCH=
    inherited from the top-level make's MAKEFLAGS cannot leak in."""
    return ['ARCH=' + arch.karch, 'CROSS_COMPILE=' + arch.cross]
