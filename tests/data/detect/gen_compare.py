#!/usr/bin/env python3
# gen_compare.py - generated lines for checking that a detector change keeps
# `usetrace scan` output byte-identical (docs/BENCHMARKS.md "Detector
# throughput (issue 14, third pass)").  Not a test: it needs a build of the
# commit before the change.  From the repository root:
#
#   cat tests/data/detect/corpus.jsonl tests/data/detect/realistic/*.jsonl > all
#   python3 tests/data/detect/gen_compare.py 1 >> all
#   python3 tests/data/detect/gen_compare.py 2 >> all
#   OLD/src/cli/usetrace scan all > old.out
#   build/src/cli/usetrace scan all | cmp - old.out
#
# Seeded (argument 1), stdlib only: every corpus line mutated and padded,
# then random IBAN / NINO / codice fiscale / IPv6 / scheme://user:pass@
# shapes, tokens, digit clusters and keyword contexts (~83,000 lines).
import json, random, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
texts = []
for f in ["tests/data/detect/corpus.jsonl", "tests/data/detect/realistic/dev.jsonl", "tests/data/detect/realistic/heldout.jsonl"]:
    for l in open(f):
        texts.append(json.loads(l)["text"])
UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"; DG = "0123456789"; HX = "0123456789abcdefABCDEF"
AL = UP + UP.lower() + DG
def rs(al, a, b): return "".join(random.choice(al) for _ in range(random.randint(a, b)))
def mutate(s):
    s = list(s)
    for _ in range(random.randint(0, 3)):
        if not s: break
        i = random.randrange(len(s))
        c = s[i]
        if c.isdigit(): s[i] = random.choice(DG)
        elif c.isupper(): s[i] = random.choice(UP)
        elif c.islower(): s[i] = random.choice(UP.lower())
        elif random.random() < 0.3: s[i] = random.choice(" :/@.-")
    return "".join(s)
kw = ["password", "pass", "pwd", "pw", "key", "token", "secret", "api_key", "IBAN", "iban", "NI", "phone", "tel", "ssn", "user", "login", "Authorization: Basic", "bearer", "-p", "--user", "mysql -u root", "codice fiscale", "PIN", "pin"]
seps = [": ", "=", " is ", " ", ":", " = ", "\n", "='", '="', " -> ", ": '"]
def token():
    k = random.randrange(14)
    if k == 0: return rs(UP, 2, 2) + rs(DG, 2, 2) + " ".join(rs(UP + DG, 4, 4) for _ in range(random.randint(1, 7)))
    if k == 1: return rs(UP, 2, 2) + rs(DG, 2, 2) + rs(UP + DG, 8, 30)
    if k == 2: return rs(UP, 2, 2) + random.choice(["", " "]) + " ".join(rs(DG, 2, 2) for _ in range(3)) + random.choice(["", " "]) + random.choice("ABCDE")
    if k == 3: return rs(UP, 6, 6) + rs(DG + "LMNPQRSTUV", 2, 2) + random.choice("ABCDEHLMPRST") + rs(DG, 2, 2) + random.choice(UP) + rs(DG, 3, 3) + random.choice(UP)
    if k == 4: return ":".join(rs(HX, 0, 4) for _ in range(random.randint(2, 8)))
    if k == 5: return random.choice(["http", "https", "postgres", "redis", "mongodb+srv", "ftp"]) + "://" + rs(AL, 0, 10) + random.choice([":", "", "::"]) + rs(AL + "!%$", 0, 14) + random.choice(["@", "", "/@", " @", "@@"]) + rs(AL, 1, 8) + random.choice([".com", ":5432/db", "", "/x"])
    if k == 6: return rs(AL + "_-+/=.~", 4, 40)
    if k == 7: return rs(DG + " -.()/+", 5, 22)
    if k == 8: return rs(UP + DG + " ", 3, 20)
    if k == 9: return rs(AL + ":@/", 3, 30)
    if k == 10: return random.choice(["hunter2", "Summer2024!", "correct horse", "changeme", "****", "${PASS}", "os.getenv('X')", "p@ss w0rd", "12345678", "abc"])
    if k == 11: return rs("aeiou bcdfg", 3, 30)
    if k == 12: return rs(UP, 1, 10) + rs(DG, 0, 4) + rs(UP, 0, 8)
    return random.choice(texts)[:random.randint(0, 80)]
out = []
n = 0
for t in texts:
    for _ in range(8):
        out.append(mutate(t)); out.append(rs(AL + " ", 0, 12) + t + rs(DG + " .-", 0, 8))
for _ in range(50000):
    parts = []
    for _ in range(random.randint(1, 6)):
        r = random.random()
        if r < 0.35: parts.append(random.choice(kw) + random.choice(seps) + token())
        elif r < 0.7: parts.append(token())
        else: parts.append(rs("abcdefgh ", 1, 20))
    out.append(random.choice([" ", "  ", "\n", ", ", ""]).join(parts))
for i, t in enumerate(out):
    print(json.dumps({"id": i, "text": t}))
