#!/usr/bin/env python3
"""eval.py - measure the detectors on the labelled corpus through `usetrace scan`.

    eval.py USETRACE CORPUS [--min-recall 0.95] [--min-precision 0.92]
            [--max-false-alarm 0.08]

Runs `USETRACE scan CORPUS`, compares the spans with the labels and prints,
per type, TP/FP/FN, precision and recall (a span counts only if start, end
and type are all exact), then the micro-averaged totals and the share of
clean lines (lines with no label) on which anything was reported.  Exits 1
if a threshold is missed (on the totals), 2 on a usage or run error.
Never prints the text of a line, only ids, classes and offsets.
"""
import argparse
import collections
import json
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("usetrace")
    ap.add_argument("corpus")
    ap.add_argument("--min-recall", type=float, default=0.95)
    ap.add_argument("--min-precision", type=float, default=0.92)
    ap.add_argument("--max-false-alarm", type=float, default=0.08)
    ap.add_argument("--verbose", action="store_true", help="list misses by id and class")
    a = ap.parse_args()

    labels = {}
    classes = {}
    with open(a.corpus, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            labels[rec["id"]] = {(s["start"], s["end"], s["type"]) for s in rec["spans"]}
            classes[rec["id"]] = rec.get("class", "?")

    p = subprocess.run([a.usetrace, "scan", a.corpus], capture_output=True, text=True)
    if p.returncode != 0:
        print("usetrace scan failed (%d): %s" % (p.returncode, p.stderr.strip()), file=sys.stderr)
        return 2
    got = {}
    for line in p.stdout.splitlines():
        rec = json.loads(line)
        got[rec["id"]] = {(s["start"], s["end"], s["type"]) for s in rec["spans"]}
    if set(got) != set(labels):
        print("scan output does not cover every line", file=sys.stderr)
        return 2

    tp = collections.Counter()
    fp = collections.Counter()
    fn = collections.Counter()
    clean = alarms = 0
    alarm_classes = collections.Counter()
    for i, want in labels.items():
        have = got[i]
        for s in have & want:
            tp[s[2]] += 1
        for s in have - want:
            fp[s[2]] += 1
            if a.verbose:
                print("  FP id=%s class=%s %s" % (i, classes[i], s))
        for s in want - have:
            fn[s[2]] += 1
            if a.verbose:
                print("  FN id=%s class=%s %s got=%s" % (i, classes[i], s, sorted(have)))
        if not want:
            clean += 1
            if have:
                alarms += 1
                alarm_classes[classes[i]] += 1

    types = sorted(set(tp) | set(fp) | set(fn))
    print("%-16s %5s %5s %5s %9s %7s" % ("type", "TP", "FP", "FN", "precision", "recall"))
    for t in types:
        pr = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0
        rc = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0
        print("%-16s %5d %5d %5d %9.3f %7.3f" % (t, tp[t], fp[t], fn[t], pr, rc))
    TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision = TP / (TP + FP) if TP + FP else 1.0
    recall = TP / (TP + FN) if TP + FN else 1.0
    fa = alarms / clean if clean else 0.0
    print("%-16s %5d %5d %5d %9.3f %7.3f" % ("ALL", TP, FP, FN, precision, recall))
    print("clean lines: %d, with a false alarm: %d (%.2f%%)%s" % (
        clean, alarms, 100 * fa,
        "" if not alarm_classes else " by class: " + ", ".join(
            "%s=%d" % kv for kv in sorted(alarm_classes.items()))))
    ok = recall >= a.min_recall and precision >= a.min_precision and fa <= a.max_false_alarm
    print("thresholds: recall >= %.2f, precision >= %.2f, false alarms <= %.0f%%: %s" % (
        a.min_recall, a.min_precision, 100 * a.max_false_alarm, "PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
