#!/usr/bin/env python3
"""mark2jsonl.py - turn a hand-written, marked-up line file into corpus JSONL.

    mark2jsonl.py FILE.txt > FILE.jsonl

Each non-empty line of FILE.txt that does not start with '#' is
"CONTEXT TEXT" (the first space separates them).  In TEXT, a finding is written as
⟪TYPE:value⟫; the output text holds only the value and a span
{"start", "end", "type"} in UTF-8 byte offsets.  Inside a value, ~N
(N decimal) is replaced by N random alphanumerics and ~hN by N random
lower-case hex digits, seeded by the line number, so tokens with the
right shape can be written without pasting random strings by hand (their
checksums are NOT valid unless written out literally).  "\\n" in TEXT is a
newline.  Lines without a finding are labelled class "clean" (context
"clean"/"chat"/...) or "neg_*" when CONTEXT starts with "neg".
"""
import json
import random
import re
import string
import sys

MARK = re.compile("⟪([A-Z_]+):(.*?)⟫")
FILL = re.compile(r"~(h?)(\d+)")
ALNUM = string.ascii_letters + string.digits


def main():
    out = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            raw = raw.rstrip("\n")
            if not raw.strip() or raw.startswith("#"):
                continue
            ctx, _, text = raw.partition(" ")
            text = text.replace("\\n", "\n")
            rnd = random.Random(lineno * 7919)

            def fill(m):
                alpha = "0123456789abcdef" if m.group(1) else ALNUM
                return "".join(rnd.choice(alpha) for _ in range(int(m.group(2))))

            res, spans, pos = b"", [], 0
            types = []
            for m in MARK.finditer(text):
                res += text[pos:m.start()].encode()
                val = FILL.sub(fill, m.group(2)).encode()
                spans.append({"start": len(res), "end": len(res) + len(val),
                              "type": m.group(1)})
                types.append(m.group(1))
                res += val
                pos = m.end()
            res += text[pos:].encode()
            if types:
                cls = types[0] if len(set(types)) == 1 else "mixed"
            else:
                cls = ctx if ctx.startswith("neg") else "clean"
            out.append({"id": len(out) + 1, "text": res.decode(), "context": ctx,
                        "class": cls, "spans": spans})
    for r in out:
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
