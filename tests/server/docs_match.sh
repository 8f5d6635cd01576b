#!/bin/sh
# docs_match - docs/openapi.json and the access table in docs/API.md are
# exactly what the server's route table generates, so they cannot drift.
set -eu
: "${USETRACE:?}" "${SRCDIR:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$USETRACE" serve --print-openapi >"$T/openapi.json"
cmp "$T/openapi.json" "$SRCDIR/docs/openapi.json" || { echo "FAIL: docs/openapi.json is stale (usetrace serve --print-openapi)"; exit 1; }
"$USETRACE" serve --print-routes >"$T/routes.md"
python3 - "$T/routes.md" "$SRCDIR/docs/API.md" <<'PY'
import sys
table = open(sys.argv[1]).read()
doc = open(sys.argv[2]).read()
if table not in doc:
    print("FAIL: the access table in docs/API.md is stale (usetrace serve --print-routes)")
    sys.exit(1)
PY
echo "docs_match: ok"
