#!/usr/bin/env python3
"""Summarise meson testlog.json files into one 'N passed, N failed' line.

A missing log counts as a failure, so 'ran nothing' never looks like
'passed'.  Exit status 0 only when something passed and nothing failed.
"""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print("summary: %s: %s" % (path, e.strerror), file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            print("failed: %s (%s)" % (r.get("name"), res), file=sys.stderr)
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
sys.exit(0 if passed > 0 and failed == 0 else 1)
