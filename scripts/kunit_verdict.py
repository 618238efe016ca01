#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Read one kunit.py JSON result and the kernel log of the same run.

Prints one line per failed, crashed or missing item and a summary line
"<profile>: N passed, N failed, N skipped", where the counted items are every
KUnit case, one check per expected suite (it ran and reported cases), and one
check that the kernel log holds no oops, KASAN or lockdep report.
Exit status 0 only if nothing failed.
"""
import argparse
import json
import re
import sys

SPLAT = re.compile(r'(BUG: |WARNING: |Oops|Kernel panic|KASAN|'
                   r'possible circular locking|inconsistent lock state|'
                   r'possible recursive locking|INFO: task .* blocked|'
                   r'Call Trace:|general protection fault|RCU stall|'
                   r'rcu: INFO|'
                   # arm64: its stack dumps, oopses, and a fault of a
                   # device behind the SMMUv3 (its event queue)
                   r'Call trace:|Unable to handle kernel|Internal error:|'
                   r'arm-smmu-v3 .*: event 0x)')


def leaves(group, path):
    """Yield (name, status) for every leaf case below a group."""
    for case in group.get('test_cases', []):
        yield path + [case['name']], case['status']
    for sub in group.get('sub_groups', []):
        yield from leaves(sub, path + [sub['name']])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', required=True)
    ap.add_argument('--json', required=True)
    ap.add_argument('--log', required=True)
    ap.add_argument('--expect', action='append', default=[],
                    help='a suite that must have run (repeatable)')
    args = ap.parse_args()

    passed = failed = skipped = 0
    try:
        with open(args.json) as f:
            root = json.load(f)
    except (OSError, ValueError) as e:
        print(f'{args.profile}: no kunit.py JSON result ({e})')
        root = {}

    tops = {g['name']: g for g in root.get('sub_groups', [])}
    for case in root.get('test_cases', []):
        # a suite that reported no cases shows up as a bare case
        print(f"{args.profile}: FAIL suite {case['name']} reported no cases "
              f"({case['status']})")
        failed += 1
    for name, group in tops.items():
        for path, status in leaves(group, [name]):
            if status == 'PASS':
                passed += 1
            elif status == 'SKIP':
                skipped += 1
            else:
                failed += 1
                print(f"{args.profile}: {status} {'.'.join(path)}")
    for suite in args.expect:
        if suite in tops and any(True for _ in leaves(tops[suite], [])):
            passed += 1
        else:
            failed += 1
            print(f'{args.profile}: FAIL suite {suite} did not run')

    try:
        with open(args.log, errors='replace') as f:
            lines = f.readlines()
        splats = [l.rstrip() for l in lines if SPLAT.search(l)]
        if not any(l.startswith('Linux version') for l in lines):
            splats.append('no kernel boot in the log')
    except OSError as e:
        splats = [f'no kernel log ({e})']
    if splats:
        failed += 1
        print(f'{args.profile}: FAIL kernel log has {len(splats)} report '
              f'line(s), first: {splats[0]}')
    else:
        passed += 1

    print(f'{args.profile}: {passed} passed, {failed} failed, '
          f'{skipped} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
