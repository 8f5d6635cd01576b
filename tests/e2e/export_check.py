#!/usr/bin/env python3
"""export_check.py - an independent reader of usetrace exports (Python
standard library only, none of the project's code).

usage: export_check.py FORMAT EXPORT_DIR ACTIONS_JSONL|- [FORBIDDEN ...]

Checks MANIFEST.sha256 against every file (and that every file is listed),
that every image is a well-formed PNG (signature, chunk CRCs, IHDR, the
IDAT stream inflates to the right size), that the steps parse in the
format's shape, and that the steps are exactly the actions of
`usetrace show --json` (ACTIONS_JSONL), in order: kind, coordinates, text
and keys, and the target element (with "-" instead of ACTIONS_JSONL,
only the manifest, the images and the files' shapes are checked).  No FORBIDDEN string may
appear in any exported byte.  Prints the contributor ids it found (so a
caller can compare two exports).
"""
import hashlib
import json
import os
import struct
import sys
import tarfile
import zlib


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


SCHEMA = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "..", "..", "docs", "export.schema.json")))


def validate(v, sch, where):
    """The JSON Schema keywords docs/export.schema.json uses, nothing more."""
    types = sch.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        py = {"object": dict, "array": list, "string": str, "null": type(None),
              "boolean": bool}
        ok = False
        for t in names:
            if t == "integer":
                ok |= isinstance(v, int) and not isinstance(v, bool)
            elif t == "number":
                ok |= isinstance(v, (int, float)) and not isinstance(v, bool)
            else:
                ok |= isinstance(v, py[t])
        check(ok, "%s: %r is not %s" % (where, v, types))
    if "enum" in sch:
        check(v in sch["enum"], "%s: %r not in %r" % (where, v, sch["enum"]))
    if isinstance(v, str) and "pattern" in sch:
        import re
        check(re.search(sch["pattern"], v), "%s: %r !~ %s" % (where, v, sch["pattern"]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        check(v >= sch.get("minimum", v) and v <= sch.get("maximum", v),
              "%s: %r out of range" % (where, v))
    if isinstance(v, dict):
        for k in sch.get("required", []):
            check(k in v, "%s: no %s" % (where, k))
        props = sch.get("properties", {})
        for k, x in v.items():
            if k in props:
                validate(x, props[k], where + "." + k)
            else:
                check(sch.get("additionalProperties", True) is not False,
                      "%s: unexpected %s" % (where, k))
    if isinstance(v, list):
        check(len(v) >= sch.get("minItems", 0) and len(v) <= sch.get("maxItems", len(v)),
              "%s: %d items" % (where, len(v)))
    if isinstance(v, list) and "items" in sch:
        for i, x in enumerate(v):
            validate(x, sch["items"], "%s[%d]" % (where, i))


def webp_ok(data, name):
    check(data[:4] == b"RIFF" and data[8:12] == b"WEBP", name + ": not a WebP")
    size, = struct.unpack("<I", data[4:8])
    check(size + 8 == len(data), name + ": RIFF size %d for %d bytes" % (size, len(data)))
    check(data[12:16] in (b"VP8 ", b"VP8L", b"VP8X"), name + ": no VP8 chunk")
    return True


def png_ok(data, name):
    check(data[:8] == b"\x89PNG\r\n\x1a\n", name + ": not a PNG")
    off, idat, w = 8, b"", None
    while off < len(data):
        n, = struct.unpack(">I", data[off:off + 4])
        typ = data[off + 4:off + 8]
        body = data[off + 8:off + 8 + n]
        crc, = struct.unpack(">I", data[off + 8 + n:off + 12 + n])
        check(zlib.crc32(typ + body) & 0xffffffff == crc, name + ": bad CRC")
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and ctype in (2, 6), name + ": unexpected PNG type")
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        off += 12 + n
        if typ == b"IEND":
            break
    check(w is not None, name + ": no IHDR")
    raw = zlib.decompress(idat)
    check(len(raw) == h * (1 + w * bpp), name + ": wrong pixel data size")
    return w, h


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        for n in names:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


def check_manifest(d):
    man = {}
    for line in open(os.path.join(d, "MANIFEST.sha256")):
        h, name = line.rstrip("\n").split("  ", 1)
        man[name] = h
    files = [f for f in files_under(d) if f != "MANIFEST.sha256"]
    check(sorted(man) == files, "manifest lists %s, files are %s" % (sorted(man)[:5], files[:5]))
    for f in files:
        got = hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
        check(got == man[f], "manifest hash of " + f)


def want_actions(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def same_action(step_ut, a, i):
    check(step_ut["type"] == a["action"], "step %d: %s != %s" % (i, step_ut["type"], a["action"]))
    if a.get("x") is not None:
        check(step_ut.get("x") == a["x"] and step_ut.get("y") == a["y"], "step %d: position" % i)
    if a["action"] == "type":
        check(step_ut.get("text") == a["text"], "step %d: text %r != %r" % (i, step_ut.get("text"), a["text"]))
    if a["action"] in ("key", "hotkey"):
        check(step_ut.get("keys") == a["keys"], "step %d: keys" % i)
    if a["action"] in ("drag", "move"):
        check(step_ut.get("end_x") == a["end_x"] and step_ut.get("end_y") == a["end_y"], "step %d: end" % i)
    if a["action"] == "scroll":
        check(step_ut.get("dx") == a["dx"] and step_ut.get("dy") == a["dy"], "step %d: scroll" % i)


def same_target(st, a, i):
    """The step's target element is the action's (show --json), or null."""
    t, w = st.get("target", "absent"), a.get("target")
    check(t != "absent", "step %d: no target field" % i)
    if w is None:
        check(t is None, "step %d: target %r, the action has none" % (i, t))
        return
    check(t is not None, "step %d: target lost" % i)
    for k in ("role", "name", "bbox", "path"):
        check(t[k] == w[k], "step %d: target %s %r != %r" % (i, k, t[k], w[k]))
    sw, sh = st["screen"]["w"], st["screen"]["h"]
    if sw > 1 and sh > 1:
        x, y, bw, bh = t["bbox_norm"]
        check(abs(x - w["bbox"][0] / (sw - 1)) < 1e-6 and abs(bw - w["bbox"][2] / sw) < 1e-6,
              "step %d: bbox_norm %r" % (i, t["bbox_norm"]))


def steps_of(fmt, d):
    """(steps in order, images {name: bytes}, contributor ids)."""
    images, contrib = {}, set()
    steps = []
    if fmt == "jsonl":
        for line in open(os.path.join(d, "steps.jsonl")):
            s = json.loads(line)
            steps.append(s)
            contrib.add(s["provenance"]["contributor"])
            if s["image"]:
                images[s["image"]] = open(os.path.join(d, s["image"]), "rb").read()
    elif fmt == "webdataset":
        shards = sorted(f for f in os.listdir(d) if f.startswith("shard-"))
        check(shards, "no shards")
        for sh in shards:
            check(os.path.getsize(os.path.join(d, sh)) <= 1 << 30, "shard over 1 GiB")
            with tarfile.open(os.path.join(d, sh)) as t:
                for m in t.getmembers():
                    check(m.mtime == 0 and m.uid == 0 and m.gid == 0 and
                          m.uname == "" and m.gname == "", "tar member metadata " + m.name)
                    data = t.extractfile(m).read()
                    if m.name.endswith(".json"):
                        s = json.loads(data)
                        check(m.name == s["key"] + ".json", "member name")
                        steps.append(s)
                        contrib.add(s["provenance"]["contributor"])
                    else:
                        images[m.name] = data
        for s in steps:
            if s["image"]:
                check(s["image"] in images, "missing image " + s["image"])
    else:
        for line in open(os.path.join(d, "episodes.jsonl")):
            ep = json.loads(line)
            contrib.add(ep["provenance"]["contributor"])
            lst = ep["traj"] if fmt == "pyautogui" else ep["steps"]
            check(ep["steps_count"] == len(lst), "steps_count")
            if fmt == "anthropic":
                tool = ep["tool"]
                check(tool["type"] == "computer_20250124" and tool["display_width_px"] > 0, "tool")
            for s in lst:
                field = {"pyautogui": "code", "osworld": "actions", "anthropic": "tool_use"}[fmt]
                check(field in s, "step without " + field)
                steps.append(s)
                if s["image"]:
                    images[s["image"]] = open(os.path.join(d, s["image"]), "rb").read()
    return steps, images, contrib


def check_target(fmt, s, i):
    ut = s["usetrace"]
    if fmt == "pyautogui":
        code = s["code"]
        if code is None:
            return 1
        check(code.startswith("pyautogui."), "step %d: code %r" % (i, code))
        w, h = s["screen"]["w"], s["screen"]["h"]
        if ut["type"] == "click" and ut.get("button") == 1:
            want = "pyautogui.click(x=%.4f, y=%.4f)" % (ut["x"] / (w - 1), ut["y"] / (h - 1))
            check(code == want, "step %d: %r != %r" % (i, code, want))
        if ut["type"] == "type":
            check(code == "pyautogui.write(%r)" % ut["text"] or code.startswith("pyautogui.write("), "type code")
    elif fmt == "osworld":
        acts = s["actions"]
        if acts is None:
            return 1
        names = [a["action_type"] for a in acts]
        allowed = {"MOVE_TO", "CLICK", "MOUSE_DOWN", "MOUSE_UP", "RIGHT_CLICK", "DOUBLE_CLICK",
                   "DRAG_TO", "SCROLL", "TYPING", "PRESS", "KEY_DOWN", "KEY_UP", "HOTKEY"}
        check(set(names) <= allowed, "step %d: %r" % (i, names))
        if ut["type"] == "type":
            check(acts == [{"action_type": "TYPING", "parameters": {"text": ut["text"]}}], "typing")
        if ut["type"] == "scroll":
            sc = [a for a in acts if a["action_type"] == "SCROLL"][0]["parameters"]
            check(sc["dy"] == -ut["dy"], "scroll sign")
    elif fmt == "anthropic":
        calls = s["tool_use"]
        if calls is None:
            return 1
        for c in calls:
            check(c["type"] == "tool_use" and c["name"] == "computer", "tool call")
        ins = [c["input"] for c in calls]
        if ut["type"] == "click" and ut.get("button") == 1:
            check(ins == [{"action": "left_click", "coordinate": [ut["x"], ut["y"]]}], "left_click")
        if ut["type"] == "type":
            check(ins == [{"action": "type", "text": ut["text"]}], "type")
    return 0


def main():
    fmt, d, actions = sys.argv[1], sys.argv[2], sys.argv[3]
    forbidden = sys.argv[4:]
    check_manifest(d)
    card = json.load(open(os.path.join(d, "DATACARD.json")))
    steps, images, contrib = steps_of(fmt, d)
    lossy = 0
    if actions != "-":
        want = want_actions(actions)
        check(len(steps) == len(want), "%d steps, %d actions" % (len(steps), len(want)))
        for i, (s, a) in enumerate(zip(steps, want)):
            same_action(s["usetrace"], a, i)
            same_target(s, a, i)
            check(s["app"] == a["app"], "step %d: app %r != %r" % (i, s["app"], a["app"]))
    for i, s in enumerate(steps):
        if fmt in ("jsonl", "webdataset"):
            validate(s, SCHEMA, "step %d" % i)
        else:
            validate(s.get("target"), SCHEMA["properties"]["target"], "step %d.target" % i)
        check(s["sensitivity"] in (1, 2, 3), "sensitivity")
        lossy += check_target(fmt, s, i)
    if "pruned_episodes" not in card:
        check(card["steps"] == len(steps) and card["not_expressible"] == lossy,
              "datacard counts %r" % card)
        check(sum(card["actions"].values()) == len(steps), "datacard actions")
        check(card["frames"] == sum(1 for s in steps if s["image"]), "datacard frames")
    for name, data in images.items():
        if name.endswith(".webp"):
            webp_ok(data, name)
        else:
            png_ok(data, name)
    for f in files_under(d):
        blob = open(os.path.join(d, f), "rb").read()
        for bad in forbidden:
            check(bad.encode() not in blob, "%r found in %s" % (bad, f))
    check(len(contrib) >= 1 or not steps, "contributor ids")
    print("contributors", ",".join(sorted(contrib)))
    print("export_check ok: %s, %d steps, %d frames, %d not expressible" %
          (fmt, len(steps), len(images), lossy))


main()
