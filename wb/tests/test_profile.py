"""wb profile's pure parts: no QEMU, objdump or kernel needed."""
import io
import os
import subprocess
import tempfile
import unittest
from unittest import mock

from wb import arch, deps, paths, profile

SYSTEM_MAP = """\
0000000000000000 D __per_cpu_start
0000000000001000 D cpu_debug_store
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000100 t helper
ffffffff81000180 W weak_one
ffffffff81000200 T move_pages
ffffffff81000280 t move_pages
ffffffff81000300 D some_data
ffffffff81000400 r a_constant
ffffffff81000500 T _etext
"""


def symbols(text=SYSTEM_MAP):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'System.map')
        with open(path, 'w') as f:
            f.write(text)
        return profile.Symbols(path)


class SymbolsTest(unittest.TestCase):
    def test_below_the_first_text_symbol_is_user_space(self):
        s = symbols()
        self.assertEqual(s.name(0x401c50), profile.USER)
        self.assertEqual(s.name(0xffffffff80ffffff), profile.USER)
        self.assertNotEqual(s.name(0xffffffff81000000), profile.USER)

    def test_an_address_belongs_to_the_text_symbol_at_or_below_it(self):
        s = symbols()
        self.assertEqual(s.name(0xffffffff81000100), 'helper')
        self.assertEqual(s.name(0xffffffff810001ff), 'weak_one')
        self.assertEqual(s.name(0xffffffff81000210), 'move_pages')

    def test_data_symbols_do_not_split_a_function(self):
        # some_data and a_constant are no text: the function runs on to
        # _etext as far as name() is concerned
        s = symbols()
        self.assertEqual(s.name(0xffffffff81000450), 'move_pages')
        self.assertNotIn('some_data', s.names)
        self.assertNotIn('cpu_debug_store', s.names)

    def test_ranges_end_at_the_next_symbol_and_list_each_copy(self):
        s = symbols()
        self.assertEqual(s.ranges('move_pages'),
                         [(0xffffffff81000200, 0xffffffff81000280),
                          (0xffffffff81000280, 0xffffffff81000500)])
        self.assertEqual(s.ranges('helper'),
                         [(0xffffffff81000100, 0xffffffff81000180)])
        # aliases at one address end at the next address, not at each other
        self.assertEqual(s.ranges('_stext'),
                         [(0xffffffff81000000, 0xffffffff81000100)])
        self.assertEqual(s.ranges('_etext'), [])
        self.assertEqual(s.ranges('nosuch'), [])

    def test_short_lines_are_skipped(self):
        s = symbols(SYSTEM_MAP + '\n                 w undefined_weak\n')
        self.assertEqual(s.name(0xffffffff81000100), 'helper')


class ByFunctionTest(unittest.TestCase):
    def test_blocks_add_up_by_function(self):
        blocks = {0x401c50: 5, 0x401c60: 1, 0xffffffff81000100: 10,
                  0xffffffff81000120: 4, 0xffffffff81000200: 7,
                  0xffffffff81000290: 3}
        self.assertEqual(profile.by_function(blocks, symbols()),
                         {profile.USER: 6, 'helper': 14, 'move_pages': 10})

    def test_read_blocks_weighs_each_block_by_its_instructions(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'blocks.txt')
            with open(path, 'w') as f:
                f.write('ffffffff81000100 4 3\n'
                        'ffffffff81000100 2 5\n'
                        '401c50 1 640\n')
            self.assertEqual(profile.block_lines(path),
                             [(0xffffffff81000100, 4, 3),
                              (0xffffffff81000100, 2, 5), (0x401c50, 1, 640)])
            self.assertEqual(profile.read_blocks(path),
                             {0xffffffff81000100: 22, 0x401c50: 640})


class ReportTest(unittest.TestCase):
    def report(self, names, profiles, **kw):
        out = io.StringIO()
        profile.report(names, profiles, out=out, **kw)
        return [l.split() for l in out.getvalue().splitlines()], \
            out.getvalue()

    def test_totals_order_and_the_rest(self):
        ours = {'move_pages': 100.0, 'down_read': 20.0, 'tiny': 1.5,
                profile.USER: 10.0}
        upstream = {'move_pages': 150.0, 'down_read': 20.0,
                    'lock_vma_under_rcu': 30.0, 'gone': 1.0}
        rows, text = self.report(['ours', 'upstream-6.12'],
                                 [ours, upstream])
        self.assertEqual(rows[0], ['function', 'ours', 'upstream-6.12'])
        self.assertEqual(rows[1], ['per', 'call', '132', '201'])
        # ours by cost (ties by name), then what only upstream has;
        # below 2 per call in every profile: left to "(the rest)"
        self.assertEqual([r[0] for r in rows[2:-1]],
                         ['move_pages', 'down_read', profile.USER.split()[0],
                          'lock_vma_under_rcu'])
        self.assertEqual(rows[2], ['move_pages', '100.0', '150.0'])
        self.assertEqual(rows[-2], ['lock_vma_under_rcu', '0.0', '30.0'])
        self.assertEqual(rows[-1], ['(the', 'rest)', '1.5', '1.0'])

    def test_columns_line_up_with_long_names(self):
        _, text = self.report(['ours', 'upstream-6.12'],
                              [{'f': 3.0}, {'f': 4.0}])
        lines = text.splitlines()
        self.assertEqual(len({len(l) for l in lines}), 1, text)

    def test_rows_limits_the_functions_and_the_rest_takes_the_others(self):
        p = {'f%d' % i: 10.0 * (i + 1) for i in range(5)}
        rows, _ = self.report(['ours'], [p], rows=2)
        self.assertEqual([r[0] for r in rows[2:4]], ['f4', 'f3'])
        self.assertEqual(rows[4], ['(the', 'rest)', '60.0'])


class MarksTest(unittest.TestCase):
    NM = ('0000000000401745 T main\n'
          '0000000000401c50 T profile_start\n'
          '0000000000401c60 T profile_stop\n'
          '                 w __pthread_key_create\n'
          '00000000004c6f00 d profile_start_data\n')

    def test_the_two_marks_are_found(self):
        self.assertEqual(profile.parse_marks(self.NM),
                         ('0000000000401c50', '0000000000401c60'))

    def test_a_missing_mark_is_named(self):
        with self.assertRaises(SystemExit) as e:
            profile.parse_marks('0000000000401c50 T profile_start\n',
                                'build/bin/move-one')
        self.assertIn('profile_stop', str(e.exception))
        self.assertIn('build/bin/move-one', str(e.exception))


OBJDUMP = """
vmlinux:     file format elf64-x86-64


Disassembly of section .text:

ffffffff81000200 <move_pages>:
ffffffff81000200:\tpush   %r15
ffffffff81000202:\tmov    %rdi,%rbx
ffffffff81000205:\tje     ffffffff81000210 <move_pages+0x10>
ffffffff81000207:\tcall   ffffffff81000100 <helper>
ffffffff8100020c:\tret    
ffffffff8100020d:\tnop
ffffffff81000210:\txor    %eax,%eax
ffffffff81000212:\tret    
\t...
"""

ARM64 = """
ffff800008123450 <move_pages>:
ffff800008123450:\tstp\tx29, x30, [sp, #-64]!
ffff800008123454:\tmov\tx29, sp
"""


class AnnotateTest(unittest.TestCase):
    def insns(self):
        return profile.parse_objdump(OBJDUMP)

    def test_objdump_gives_the_instructions_only(self):
        insns = self.insns()
        self.assertEqual(len(insns), 8)
        self.assertEqual(insns[0], (0xffffffff81000200, 'push   %r15'))
        self.assertEqual(insns[4], (0xffffffff8100020c, 'ret'))
        self.assertEqual(profile.parse_objdump(ARM64),
                         [(0xffff800008123450,
                           'stp     x29, x30, [sp, #-64]!'),
                          (0xffff800008123454, 'mov     x29, sp')])

    def test_a_block_counts_on_its_consecutive_instructions(self):
        blocks = [(0xffffffff81000200, 3, 640),   # entry to the je
                  (0xffffffff81000207, 1, 600),   # the call
                  (0xffffffff8100020c, 1, 600),
                  (0xffffffff81000210, 2, 40),
                  (0xffffffff81000200, 2, 1),     # a shorter translation
                  (0xffffffff81000100, 9, 640),   # another function
                  (0x401c50, 3, 640)]             # user space
        runs, misplaced = profile.spread(blocks, self.insns())
        self.assertEqual(runs, [641, 641, 640, 600, 600, 0, 40, 40])
        self.assertEqual(misplaced, [])

    def test_blocks_off_the_instructions_are_set_apart(self):
        runs, misplaced = profile.spread(
            [(0xffffffff81000201, 2, 5), (0xffffffff81000210, 5, 7)],
            self.insns())
        self.assertEqual(misplaced, [(0xffffffff81000201, 2, 5)])
        # past the end of the function: cut
        self.assertEqual(runs, [0, 0, 0, 0, 0, 0, 7, 7])
        self.assertEqual(profile.spread([(1, 1, 1)], []), ([], []))

    def test_only_what_ran_is_shown_per_call(self):
        insns = self.insns()
        runs = [640, 640, 640, 0, 0, 320, 0, 0]
        lines = profile.annotation(insns, runs, 640)
        self.assertEqual([l.split() for l in lines], [
            ['1.00', 'ffffffff81000200:', 'push', '%r15'],
            ['1.00', 'ffffffff81000202:', 'mov', '%rdi,%rbx'],
            ['1.00', 'ffffffff81000205:', 'je', 'ffffffff81000210',
             '<move_pages+0x10>'],
            ['...'],
            ['0.50', 'ffffffff8100020d:', 'nop'],
            ['...']])
        self.assertEqual(profile.annotation(insns, [0] * 8, 640), [])

    def test_a_rare_instruction_does_not_look_like_none(self):
        self.assertEqual(profile.per_call_text(1 / 640), '   1.6e-03')
        self.assertEqual(profile.per_call_text(0.005), '      0.01')
        self.assertEqual(profile.per_call_text(12.5), '     12.50')


class AnnotateOutputTest(unittest.TestCase):
    """annotate() with the System.map, objdump and blocks faked."""

    @staticmethod
    def objdump(config, arch, start, end):
        return OBJDUMP if start == 0xffffffff81000200 else ''

    def annotate(self, func, blocks, same=True):
        out = io.StringIO()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'blocks.txt')
            with open(path, 'w') as f:
                f.writelines('%x %d %d\n' % b for b in blocks)
            smap = os.path.join(tmp, 'System.map')
            with open(smap, 'w') as f:
                f.write(SYSTEM_MAP)
            with mock.patch.object(profile, 'map_file',
                                   return_value=smap), \
                    mock.patch.object(profile, 'blocks_file',
                                      return_value=path), \
                    mock.patch.object(profile, 'same_kernel',
                                      return_value=same), \
                    mock.patch.object(profile, 'disassemble',
                                      side_effect=self.objdump) as objdump:
                profile.annotate(func, 'guest', 'ours', 'x86_64', 10,
                                 out=out)
        return out.getvalue(), objdump

    def test_header_lines_and_what_is_not_shown(self):
        text, objdump = self.annotate('move_pages', [
            (0xffffffff81000200, 3, 10), (0xffffffff81000201, 1, 10),
            (0xffffffff81000210, 4, 10)])
        lines = text.splitlines()
        self.assertEqual(objdump.call_args_list, [
            mock.call('guest', 'x86_64', 0xffffffff81000200,
                      0xffffffff81000280),
            mock.call('guest', 'x86_64', 0xffffffff81000280,
                      0xffffffff81000500)])
        self.assertEqual(lines[0], '==> move_pages in ours (guest), '
                         'ffffffff81000200..ffffffff81000280: 8.0 '
                         'instructions per call')
        self.assertEqual(lines[1].split()[:2], ['1.00', 'ffffffff81000200:'])
        self.assertIn('1 blocks start between the instructions of vmlinux',
                      text)
        self.assertIn('ffffffff81000201', text)
        self.assertIn('2.0 per call ran on past ffffffff81000280', text)
        # the other static move_pages
        self.assertEqual(lines[-2:], [
            '==> move_pages in ours (guest), ffffffff81000280..'
            'ffffffff81000500: 0.0 instructions per call',
            '            (did not run)'])

    def test_a_kernel_changed_since_the_profile_is_not_annotated(self):
        text, objdump = self.annotate('move_pages', [], same=False)
        self.assertIn('changed after it was profiled', text)
        objdump.assert_not_called()

    def test_an_unknown_function_is_said_so(self):
        text, _ = self.annotate('nosuch', [])
        self.assertEqual(text, 'nosuch: not a text symbol of ours '
                         '(guest)\n')


class SameKernelTest(unittest.TestCase):
    def test_the_profiled_system_map_is_compared_with_the_kernels(self):
        with tempfile.TemporaryDirectory() as tmp:
            now, then = (os.path.join(tmp, n) for n in ('now', 'then'))
            with mock.patch.object(profile, 'system_map',
                                   return_value=now), \
                    mock.patch.object(profile, 'map_file',
                                      return_value=then):
                with open(now, 'w') as f:
                    f.write(SYSTEM_MAP)
                self.assertFalse(profile.same_kernel('guest', 'x86_64'))
                with open(then, 'w') as f:
                    f.write(SYSTEM_MAP)
                self.assertTrue(profile.same_kernel('guest', 'x86_64'))
                with open(now, 'a') as f:
                    f.write('ffffffff81000600 T new_function\n')
                self.assertFalse(profile.same_kernel('guest', 'x86_64'))


class DepsTest(unittest.TestCase):
    def test_what_profile_runs_is_installed_for_every_arch(self):
        for name, a in arch.ARCHES.items():
            progs = profile.programs(name)
            self.assertEqual(progs['gcc'], 'build-essential')
            self.assertIn(a.cross + 'objdump', progs)
            for pkg in progs.values():
                # what deps.ensure_arch() installs
                self.assertIn(pkg, deps.TOOLS + a.packages, name)

    def test_the_plugin_builds_without_warnings(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(
                ['gcc', '-O2', '-shared', '-fPIC', '-Wall', '-Wextra',
                 '-Werror', '-o', os.path.join(tmp, 'qprof.so'),
                 profile.PLUGIN_SRC], capture_output=True, text=True,
                cwd=paths.ROOT)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == '__main__':
    unittest.main()
