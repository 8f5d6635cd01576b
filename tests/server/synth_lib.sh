# synth_lib.sh - for server tests that upload synthetic segments (ut-synth):
# a person with a logged-in home and an enrolled, consenting device, and
# the ids the server lists.  Sourced after cli_lib.sh and start_server.
: "${UT_SYNTH:?UT_SYNTH must point at the ut-synth tool}"

# person_with_device NAME HOME DEVHOME: the admin adds subject NAME, who
# logs in with HOME and enrolls the device DEVHOME, which consents.
person_with_device() {
	expect_out "^claim " as_admin "$USETRACE" admin principal add "$1" --role subject
	claim=$(sed -n 's/^claim //p' "$T/out")
	mkdir -p "$2" "$3" && chmod 700 "$2" "$3"
	expect_out "^token " env USETRACE_HOME="$2" "$USETRACE" login "$SRV_URL" \
		--claim "$claim" --pin "$SRV_PIN"
	add_device "$2" "$3"
}

# add_device HOME DEVHOME: the person logged in with HOME enrolls one more
# device, DEVHOME, which consents; sets DEVICE_ID to its id.
add_device() {
	mkdir -p "$2" && chmod 700 "$2"
	expect_out "^code " env USETRACE_HOME="$1" "$USETRACE" my enroll-code
	code=$(sed -n 's/^code //p' "$T/out")
	expect_out "^enrolled device " env USETRACE_HOME="$2" "$USETRACE" enroll \
		"$SRV_URL" --code "$code" --pin "$SRV_PIN"
	DEVICE_ID=$(sed -n 's/^enrolled device \([0-9]*\) .*/\1/p' "$T/out")
	expect 0 "" env USETRACE_HOME="$2" "$USETRACE" consent --yes
}

# listed_ids HOME: the segment ids `usetrace my list --json` names, sorted,
# one a line.
listed_ids() {
	expect 0 "" env USETRACE_HOME="$1" "$USETRACE" my list --json
	python3 -c 'import json,sys
for s in sorted(x["id"] for x in json.load(open(sys.argv[1]))["segments"]): print(s)' "$T/out"
}

# login_as NAME ROLE HOME: the admin adds NAME with ROLE, who logs in with
# HOME (their token saved there).
login_as() {
	expect_out "^claim " as_admin "$USETRACE" admin principal add "$1" --role "$2"
	mkdir -p "$3" && chmod 700 "$3"
	expect_out "^token " env USETRACE_HOME="$3" "$USETRACE" login "$SRV_URL" \
		--claim "$(sed -n 's/^claim //p' "$T/out")" --pin "$SRV_PIN"
}

# as HOME COMMAND...: the CLI with the key home HOME (a person or device).
as() { h=$1; shift; env USETRACE_HOME="$h" "$USETRACE" "$@"; }
