#!/bin/sh
# canary - auditors make canaries (`usetrace audit canary add`): synthetic
# people with generated recordings that look to everyone else like real
# ones.  A read of a canary outside its flow is an alert at once (in the
# audit log before the read's answer, on the server's output, and through
# the configured alert_command); a canary whose flow is review is reviewed
# and exported like real data, and its marker is in the export.
. "$(dirname "$0")/cli_lib.sh"
. "$(dirname "$0")/synth_lib.sh"

alerts() { # the canary_read alerts in the log
	expect 0 "" as "$T/carol" audit alerts --json
	python3 -c 'import json,sys
print(len([a for a in json.load(open(sys.argv[1]))["alerts"] if a["action"] == "canary_read"]))' "$T/out"
}

printf '#!/bin/sh\nprintf "%%s\\n" "$1" >>"%s/alerts.log"\n' "$T" >"$T/alert.sh"
chmod +x "$T/alert.sh"
printf '{"alert_command": "%s/alert.sh"}\n' "$T" >"$T/config.json"
start_server "$T/data" --config "$T/config.json"
login_as carol auditor "$T/carol"
login_as rita reviewer "$T/rita"
login_as tina trainer "$T/tina"
person_with_device alice "$T/alice" "$T/adev"

expect 1 "forbidden" as_admin "$USETRACE" audit canary add x.y
expect 2 "--flow none\|review" as "$T/carol" audit canary add dana.k --flow all
expect_out "^canary dana.k marker ref [0-9a-f]{16} segments 2$" \
	as "$T/carol" audit canary add dana.k --segments 2
DANA_MARK=$(sed -n 's/^canary dana.k marker \(.*\) segments 2$/\1/p' "$T/out")
expect_out "^canary eli.m marker " as "$T/carol" audit canary add eli.m --flow review --segments 1
ELI_MARK=$(sed -n 's/^canary eli.m marker \(.*\) segments 1$/\1/p' "$T/out")
expect 1 "conflict" as "$T/carol" audit canary add dana.k

# To the admin they are people like alice.
expect 0 "" as_admin "$USETRACE" admin principal list
grep -q "^dana.k  *subject " "$T/out" && grep -q "^alice  *subject " "$T/out" ||
	{ cat "$T/out" >&2; fail "the canary does not look like a person"; }
expect 0 "" as_admin "$USETRACE" admin segments --json
python3 - "$T/out" >"$T/segs" <<'PY'
import json, sys
segs = json.load(open(sys.argv[1]))["segments"]
by = {}
for s in segs:
    by.setdefault(s["subject"], []).append(s["id"])
for subj, ids in sorted(by.items(), key=lambda kv: -len(kv[1])):
    print(" ".join(ids))
PY
[ "$(wc -l <"$T/segs")" = 2 ] || { cat "$T/segs" >&2; fail "not 2 subjects with segments"; }
D1=$(sed -n 1p "$T/segs" | cut -d' ' -f1)
E1=$(sed -n 2p "$T/segs")
[ "$(alerts)" = 0 ] || fail "alerts before any read"

# A reviewer reads dana's segment (flow none): the alert is in the log by
# the time the read's answer arrives.
expect_out "^assigned " as_admin "$USETRACE" admin assign "$D1" rita
RD=$(sed -n 's/^assigned //p' "$T/out")
expect_out "$DANA_MARK" as "$T/rita" review show "$RD" --json
[ "$(alerts)" = 1 ] || fail "no alert for a canary read outside its flow"
grep -q "ALERT: canary_read by rita" "$T/serve.err" || fail "no ALERT line on the server's output"
i=0
until grep -q '"action":"canary_read"' "$T/alerts.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the alert command did not run"
	sleep 0.1
done
grep -q "$DANA_MARK" "$T/alerts.log" && fail "the alert command got the marker (content)"

# eli (flow review) is reviewed and exported like real data: no alert.
expect_out "^assigned " as_admin "$USETRACE" admin assign "$E1" rita
RE=$(sed -n 's/^assigned //p' "$T/out")
expect_out "$ELI_MARK" as "$T/rita" review show "$RE" --json
expect_out "approved" as "$T/rita" review approve "$RE"
expect 0 "" as "$T/tina" training steps --export leak-check
grep -q "$ELI_MARK" "$T/out" || fail "the review-flow canary's marker is not in the export"
[ "$(alerts)" = 1 ] || fail "an alert for a canary read inside its flow"
# Approving dana's too: exporting it is a second alert.
expect_out "approved" as "$T/rita" review approve "$RD"
expect 0 "" as "$T/tina" training steps --export leak-check
[ "$(alerts)" = 2 ] || fail "no alert for exporting a canary whose flow is none"
expect 0 "" as "$T/carol" audit alerts
grep -q "tina  canary_read  segment:$D1" "$T/out" || { cat "$T/out" >&2; fail "alert line"; }
echo "canary: ok"
