"""Read a guest console log: TAP results, kernel splats, the exit status.

Kernel lines carry a printk timestamp ("[    1.234567] ..."); everything
else on the console is what the guest's programs printed.
"""
import re

EXIT_MARKER = 'WB-EXIT:'

TAP_RE = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*(-\s*)?(.*)$')
KERNEL_RE = re.compile(r'^\[\s*\d+\.\d+\]')
RUN_RE = re.compile(r'^#\s+RUN\s+(\S+)')

# What a healthy kernel never prints.  Matched against kernel lines only.
SPLAT_PATTERNS = [
    r'WARNING:', r'BUG:', r'kernel BUG at', r'Oops', r'general protection',
    r'Kernel panic', r'possible circular locking', r'possible recursive locking',
    r'inconsistent lock state', r'suspicious RCU usage', r'KASAN',
    r'KFENCE:',
    r'UBSAN', r'Bad rss-counter', r'Bad page', r'soft lockup',
    r'blocked for more than', r'rcu_.*stall', r'stall on CPU',
    r'list_add corruption', r'list_del corruption', r'page_table_check',
    r'Call Trace:',
]
SPLAT_RE = re.compile('|'.join(SPLAT_PATTERNS))
EXCERPT_LINES = 40


class Result:
    def __init__(self, ok, name, skip=False, line=''):
        self.ok, self.name, self.skip, self.line = ok, name, skip, line

    def __repr__(self):
        return 'Result(%r, %r, skip=%r)' % (self.ok, self.name, self.skip)


def clean(line):
    return line.rstrip('\r\n').replace('\r', '')


def is_kernel(line):
    return bool(KERNEL_RE.match(line))


def tap_results(lines):
    """Top-level TAP/KTAP result lines ("ok 3 name # SKIP why")."""
    out, running = [], None
    for raw in lines:
        line = clean(raw)
        run = RUN_RE.match(line)
        if run:
            running = run.group(1)
        m = TAP_RE.match(line)
        if not m:
            continue
        desc = m.group(4)
        skip = bool(re.search(r'#\s*SKIP', desc, re.I))
        # 6.1's kselftest_harness prints "ok N # SKIP why" without the
        # name: take it from the harness's "#  RUN name ..." line.
        name = (re.split(r'(?:^|\s+)#', desc)[0].strip() or running or
                '(unnamed)')
        running = None
        out.append(Result(m.group(1) == 'ok', name, skip, line))
    return out


def splats(lines):
    """Excerpts of kernel splats: each starts at a matching kernel line."""
    lines = [clean(l) for l in lines]
    found, i = [], 0
    while i < len(lines):
        if is_kernel(lines[i]) and SPLAT_RE.search(lines[i]):
            end = min(len(lines), i + EXCERPT_LINES)
            for j in range(i + 1, end):
                if 'end trace' in lines[j]:
                    end = j + 1
                    break
            found.append(lines[i:end])
            i = end
        else:
            i += 1
    return found


def exit_status(lines):
    """The guest command's exit status, or None if it never got there."""
    for raw in reversed(lines):
        line = clean(raw)
        if line.startswith(EXIT_MARKER):
            try:
                return int(line[len(EXIT_MARKER):].strip())
            except ValueError:
                return None
    return None


def program_output(lines):
    """What the guest's programs printed: the non-kernel lines."""
    return [clean(l) for l in lines
            if not is_kernel(clean(l)) and not clean(l).startswith(EXIT_MARKER)]


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def add(self, result):
        if result.skip and result.ok:
            self.skipped += 1
        elif result.ok:
            self.passed += 1
        else:
            self.failed += 1

    def line(self):
        s = '%d passed, %d failed' % (self.passed, self.failed)
        if self.skipped:
            s += ', %d skipped' % self.skipped
        return s
