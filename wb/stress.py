"""make stress: the debug kernel under millions of concurrent moves, a
fuzzer and injected allocation failures (workload/README.md, "Stress").

One guest runs guest/run-stress: uffd-stress until it has moved PAGES
pages, uffd-fuzz for CALLS calls, uffd-faultinj for ROUNDS calls per case
and failure probability.  Their TAP lines, the boot's completion and a
clean kernel log (no splat, no hung task) are counted into one
"N passed, N failed" line.
"""
import os
import time

from . import arch as arches, check, deps, guest, kbuild, paths, results

PAGES = 1000000
CALLS = 1000000
ROUNDS = 25
SEED = 1
# Upper bounds of each program's run in the guest (run-stress), and of the
# whole boot: a run that needs longer has hung.
STRESS_SECONDS = 2400
TIMEOUT = 5400


def stress(config='debug', seed=SEED, pages=PAGES, calls=CALLS,
           rounds=ROUNDS, timeout=TIMEOUT, arch='x86_64'):
    a = arches.get(arch).name
    start = time.monotonic()
    deps.ensure_arch(a)
    check.ensure_tree()
    kbuild.build(config, arch=a)
    bindirs = [check.build_userspace(a)]
    deps.say('make stress on the %s %s kernel: seed %d, at least %d pages '
             'moved, %d fuzzed calls, %d fault-injection rounds per case'
             % (a, config, seed, pages, calls, rounds))
    cmd = ('SEED=%d PAGES=%d CALLS=%d ROUNDS=%d MAXSEC=%d run-stress'
           % (seed, pages, calls, rounds, STRESS_SECONDS))
    t0 = time.monotonic()
    # a log of its own: make check may boot the same kernel meanwhile
    log = os.path.join(paths.obj(config, a), 'console-stress.log')
    run = guest.boot(config, cmd=cmd, timeout=timeout,
                     echo=check.echo_program_output, bindirs=bindirs,
                     arch=a, log=log)
    tally = results.Tally()
    for r in results.tap_results(results.program_output(run.lines)):
        check.report(tally, r.ok, r.name, skip=r.skip)
    check.judge_boot(tally, run, 'the stress guest')
    print('make stress: %d s in the guest, %d s in all; reproduce with: '
          'make stress CONFIG=%s SEED=%d PAGES=%d CALLS=%d ROUNDS=%d'
          % (time.monotonic() - t0, time.monotonic() - start, config, seed,
             pages, calls, rounds))
    print(tally.line(), flush=True)
    return 1 if tally.failed else 0
