import os
import tempfile
import unittest

from wb import arch, guest, kbuild, paths


class TableTest(unittest.TestCase):
    def test_x86_64_is_the_default_and_aliases_resolve(self):
        self.assertEqual(arch.get().name, 'x86_64')
        self.assertEqual(arch.get('aarch64').name, 'arm64')
        self.assertEqual(arch.get('i686').name, 'i386')
        with self.assertRaises(SystemExit):
            arch.get('riscv64')

    def test_make_check_runs_every_arch_unless_told(self):
        self.assertEqual(arch.names(None), ['x86_64', 'arm64', 'i386'])
        self.assertEqual(arch.names('all'), ['x86_64', 'arm64', 'i386'])
        self.assertEqual(arch.names('x86_64'), ['x86_64'])
        self.assertEqual(arch.names('i386,aarch64'), ['i386', 'arm64'])

    def test_kernel_make_gets_arch_and_cross_compiler(self):
        self.assertEqual(arch.kmake_vars(arch.get('arm64')),
                         ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-'])
        self.assertEqual(arch.kmake_vars(arch.get('x86_64')),
                         ['ARCH=x86', 'CROSS_COMPILE='])
        self.assertEqual(arch.cc(arch.get('i386')), 'i686-linux-gnu-gcc')

    def test_x86_64_keeps_its_paths(self):
        self.assertEqual(paths.obj('debug'),
                         os.path.join(paths.BUILD, 'obj', 'debug'))
        self.assertEqual(paths.obj('debug', 'arm64'),
                         os.path.join(paths.BUILD, 'obj', 'debug-arm64'))
        self.assertEqual(paths.userspace(), os.path.join(paths.BUILD, 'bin'))
        self.assertEqual(kbuild.image('guest', 'arm64'), os.path.join(
            paths.BUILD, 'obj', 'guest-arm64', 'arch/arm64/boot/Image'))


class FragmentsTest(unittest.TestCase):
    def names(self, config, a):
        return [os.path.basename(f) for f in kbuild.fragments(config, a)]

    def test_each_arch_has_its_machine_and_the_common_debug_options(self):
        self.assertEqual(self.names('debug', 'x86_64'),
                         ['guest.config', 'debug.config'])
        self.assertEqual(self.names('debug', 'arm64'),
                         ['guest-arm64.config', 'debug.config'])
        self.assertEqual(self.names('debug', 'i386'),
                         ['guest-i386.config', 'debug.config',
                          'debug-i386.config'])
        self.assertEqual(self.names('guest', 'i386'), ['guest-i386.config'])

    def test_every_fragment_exists(self):
        for config in kbuild.CONFIGS:
            for a in arch.ARCHES:
                for f in kbuild.fragments(config, a):
                    self.assertTrue(os.path.exists(f), f)

    def test_i386_is_highmem_with_page_tables_in_high_memory(self):
        text = ''.join(open(f).read() for f in
                       kbuild.fragments('debug', 'i386'))
        for opt in ('HIGHMEM4G', 'HIGHPTE', 'DEBUG_KMAP_LOCAL_FORCE_MAP',
                    'BUG', 'KALLSYMS', 'BINFMT_SCRIPT', 'PCI',
                    'PROVE_LOCKING', 'USERFAULTFD', 'SWAP'):
            self.assertIn('CONFIG_%s=y\n' % opt, text)
        self.assertNotIn('CONFIG_64BIT=y', text)

    def test_a_fragment_of_the_arch_follows_its_base(self):
        with tempfile.TemporaryDirectory() as d:
            for f in ('guest.config', 'guest-arm64.config', 'debug.config',
                      'debug-arm64.config'):
                open(os.path.join(d, f), 'w').close()
            got = [os.path.basename(f) for f in
                   kbuild.fragments('debug', 'arm64', configs=d)]
        self.assertEqual(got, ['guest-arm64.config', 'debug.config',
                               'debug-arm64.config'])

    def test_only_options_the_arch_lacks_may_be_missing(self):
        out = ('Value requested for CONFIG_PAGE_TABLE_CHECK not in final '
               '.config\nValue requested for CONFIG_KFENCE not in final '
               '.config\n')
        self.assertEqual(kbuild.unmet(out), ['CONFIG_PAGE_TABLE_CHECK',
                                             'CONFIG_KFENCE'])
        self.assertEqual(kbuild.unmet(out, arch.get('i386').lacks),
                         ['CONFIG_KFENCE'])

    def test_an_option_asked_off_may_be_absent(self):
        out = ('Value requested for CONFIG_TRANSPARENT_HUGEPAGE_MADVISE not '
               'in final .config\n'
               'Requested value:  # CONFIG_TRANSPARENT_HUGEPAGE_MADVISE is '
               'not set\n'
               'Actual value:     \n'
               'Value requested for CONFIG_KFENCE not in final .config\n'
               'Requested value:  CONFIG_KFENCE=y\n'
               'Actual value:     \n')
        self.assertEqual(kbuild.unmet(out), ['CONFIG_KFENCE'])

    def test_selftests_are_cross_built_for_the_arch(self):
        self.assertIn('CROSS_COMPILE=i686-linux-gnu-',
                      kbuild.selftest_vars('i386'))
        self.assertIn('MACHINE=arm64', kbuild.selftest_vars('arm64'))


class QemuArchTest(unittest.TestCase):
    def argv(self, a):
        return guest.qemu_argv('Image', 'initrd', 'swap.img', arch=a)

    def opt(self, argv, name):
        return argv[argv.index(name) + 1]

    def test_arm64_is_the_virt_machine_with_a_pl011_console(self):
        argv = self.argv('arm64')
        self.assertEqual(argv[0], 'qemu-system-aarch64')
        self.assertEqual(self.opt(argv, '-machine'), 'virt')
        self.assertIn('console=ttyAMA0', self.opt(argv, '-append'))
        self.assertIn('virtio-blk-device,drive=swap', argv)
        self.assertIn('file=swap.img,if=none,id=swap,format=raw', argv)

    def test_i386_claims_an_intel_cpu_and_has_2_gib(self):
        argv = self.argv('i386')
        self.assertEqual(argv[0], 'qemu-system-i386')
        self.assertEqual(self.opt(argv, '-cpu'), 'max,vendor=GenuineIntel')
        self.assertEqual(self.opt(argv, '-m'), '2048')
        self.assertIn('console=ttyS0', self.opt(argv, '-append'))

    def test_x86_64_is_unchanged(self):
        argv = self.argv('x86_64')
        self.assertEqual(argv[0], 'qemu-system-x86_64')
        self.assertEqual(self.opt(argv, '-cpu'), 'max')
        self.assertIn('file=swap.img,if=virtio,format=raw', argv)
        self.assertTrue(self.opt(argv, '-append').startswith(
            'console=ttyS0 panic=-1'))

    def test_each_arch_boots_its_own_busybox(self):
        self.assertEqual(guest.busybox('x86_64'), '/bin/busybox')
        self.assertEqual(guest.busybox('arm64'), os.path.join(
            paths.BUILD, 'busybox', 'arm64', 'bin', 'busybox'))


if __name__ == '__main__':
    unittest.main()
