#!/usr/bin/env bash
# Fuzzes the management API with schemathesis against a live `hookd serve`. A throwaway config (one generic-hmac source, a route, a `hookd sink`
# destination) and store in a temp dir; an admin API key made offline with
# `hookd token create`; a few real signed webhooks so the events endpoints have data;
# then schemathesis from /v1/openapi.json with a fixed seed and a bounded number of
# examples per operation. Fails on any schemathesis failure (5xx, response not matching
# the schema, wrong status code or content type, ...), on any 5xx it saw, and when fewer
# than half of its requests were answered 2xx.
#
# Usage: .ci/schemathesis.sh   (from anywhere; uses target/ci-venv and target/debug/hookd)
# Env:   SCHEMATHESIS_REPORT_DIR: where to keep its JUnit and NDJSON reports (default: a
#        temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."

# The seed, the number of examples, the phases and the checks are in .ci/schemathesis.toml.
SCHEMATHESIS_VERSION="4.32.5"
repo="$PWD"
HOOKD="$PWD/target/debug/hookd"
VENV="$PWD/target/ci-venv"

[ -x "$HOOKD" ] || cargo build -p hookd --locked
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==${SCHEMATHESIS_VERSION}"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port="$(free_port)"
sink_port="$(free_port)"
base="http://127.0.0.1:${port}"
sink_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
source_secret="schemathesis-secret"
report_dir="${SCHEMATHESIS_REPORT_DIR:-$work/report}"
mkdir -p "$report_dir"

cat >"$work/hookd.toml" <<EOF
[server]
listen = "127.0.0.1:${port}"
data_dir = "${work}/data"
log_level = "warn"

[sources.demo]
preset = "generic-hmac"
secrets = ["${source_secret}"]
signature_header = "x-signature"
encoding = "hex"
prefix = "sha256="
timestamp_header = "x-timestamp"
signed_payload = "{timestamp}.{body}"
event_type = { json = "/type" }
event_id = { json = "/id" }

[destinations.sink]
url = "http://127.0.0.1:${sink_port}/hooks"
secret = "${sink_secret}"
allow_private_network = true

[[routes]]
name = "orders"
source = "demo"
types = ["order.*"]
destination = "sink"
EOF

token="$("$HOOKD" token create --config "$work/hookd.toml" --tenant '*' --scope admin \
    --name schemathesis 2>"$work/token.err")"
# "created API key key_… (tenant *, scope admin); …": the hooks keep the run from
# revoking its own key (see .ci/schemathesis_hooks.py).
HOOKD_FUZZ_KEY_ID="$(grep -o 'key_[0-9A-Z]\{26\}' "$work/token.err" | head -n1)"
[ -n "$HOOKD_FUZZ_KEY_ID" ] || { echo "no key id in: $(cat "$work/token.err")" >&2; exit 1; }
export HOOKD_FUZZ_KEY_ID

"$HOOKD" sink --listen "127.0.0.1:${sink_port}" --secret "$sink_secret" \
    --out "$work/sink.jsonl" >"$work/sink.log" 2>&1 &
pids+=($!)
"$HOOKD" serve --config "$work/hookd.toml" >"$work/serve.log" 2>&1 &
pids+=($!)

ready=""
for _ in $(seq 1 100); do
    if curl -fsS "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    echo "hookd did not become ready; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi

# Real signed webhooks: routed ones (delivered to the sink, so events carry jobs and
# attempts) and an unrouted one.
for type in order.paid order.refunded order.created; do
    "$HOOKD" send --preset generic-hmac --secret "$source_secret" --type "$type" \
        "$base/in/demo" >/dev/null
done
"$HOOKD" send --preset generic-hmac --secret "$source_secret" --type customer.updated \
    "$base/in/demo" >/dev/null
sleep 1 # let the deliveries finish, so the events are in a settled state

set +e
(
    # From the temp dir, so that nothing schemathesis or hypothesis may write lands in
    # the checkout.
    cd "$work" &&
        PYTHONPATH="$repo/.ci${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks \
            "$VENV/bin/schemathesis" --config-file "$repo/.ci/schemathesis.toml" run \
            "$base/v1/openapi.json" \
            --header "Authorization: Bearer ${token}" \
            --no-color \
            --report junit,ndjson \
            --report-dir "$report_dir"
) >"$work/schemathesis.out" 2>&1
st_status=$?
set -e
cat "$work/schemathesis.out"

"$VENV/bin/python" - "$report_dir" "$st_status" <<'PY'
import collections, json, pathlib, sys

report_dir, st_status = pathlib.Path(sys.argv[1]), int(sys.argv[2])
statuses = collections.Counter()
# Every request sent is one interaction of a finished scenario, with its response.
for path in report_dir.glob("*.ndjson"):
    for line in path.read_text().splitlines():
        event = json.loads(line) if line.strip() else {}
        recorder = event.get("ScenarioFinished", {}).get("recorder", {})
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            if response is not None:
                statuses[response["status_code"]] += 1
total = sum(statuses.values())
ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
server_errors = sum(n for code, n in statuses.items() if code >= 500)
share = ok / total if total else 0.0
by_code = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
problems = []
if st_status != 0:
    problems.append(f"schemathesis exited {st_status} (failures above)")
if total == 0:
    problems.append("no requests recorded")
if server_errors:
    problems.append(f"{server_errors} 5xx answers")
if share < 0.5:
    problems.append(f"2xx share {share:.1%} < 50%")
print(f"schemathesis: {total} requests, 2xx {ok} ({share:.1%}), 5xx {server_errors}, "
      f"statuses {{{by_code}}}, failures: {'; '.join(problems) or 'none'}")
sys.exit(1 if problems else 0)
PY
