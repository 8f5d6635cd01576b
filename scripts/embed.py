#!/usr/bin/env python3
"""embed.py IN OUT SYMBOL - writes a C file defining `const char SYMBOL[]`
holding IN's bytes (used to compile the default policy into the program)."""
import sys

data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
    f.write("/* Generated from %s by scripts/embed.py. */\n" % sys.argv[1].split("/")[-1])
    f.write("const char %s[] = {\n" % sys.argv[3])
    for i in range(0, len(data), 16):
        f.write("".join("%d," % b for b in data[i:i + 16]) + "\n")
    f.write("0 };\n")
