#!/usr/bin/env bash
# hookd's benchmark: what hookd takes in and delivers on this machine, next to what a bare
# HTTP server manages on it.
#
#   bench/run.sh           3 repetitions: Limit and Ingest 10 s each, End to end on
#                          100,000 events; medians with their range
#   bench/run.sh --events 1000000
#                          the same with another number of events for End to end and
#                          the peers (any mode)
#   bench/run.sh --quick   10,000 events for each measurement, 1 repetition
#   bench/run.sh --smoke   1,000 events, debug build: shows that the harness works (CI);
#                          its figures mean nothing and are not saved
#
# Measurements, each against fresh processes and a fresh store (see "Performance" in the
# README for what the rows mean):
#   Limit       hookd-bench load → hookd-bench limit, a bare HTTP server on hookd's stack
#   Ingest      hookd-bench load → hookd, its queue paused: verify, dedup, route, commit
#               with fsync, answer; also hookd's CPU time and peak memory
#   End to end  hookd-bench load → hookd → hookd sink, then hookd-bench drain: events per
#               second from the first send to the last delivery, send → delivered latency
#   Peers       full mode only (bench/lib/peers.sh): End to end with hookd on PostgreSQL,
#               and BullMQ on Redis, graphile-worker and pg-boss on PostgreSQL enqueueing
#               and working off the same number of jobs (bench/peers)
#   Propagation every mode (bench/lib/propagation.sh): a config edit through one of two
#               nodes on PostgreSQL, timed until the other node applies it
#   Backlog     full mode only (bench/lib/backlog.sh): claim and complete with 10,000
#               and 1,000,000 jobs queued, memory idle and with them, restart to ready
#
# Every process runs on this machine on loopback and shares its cores with the load
# generator. Prints a Markdown table and, except with --smoke, writes it with the machine,
# the versions and the commands to bench/results/<date>-<host>.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

mode=full
events_override=""
while (($#)); do
    case $1 in
        --quick) mode=quick ;;
        --smoke) mode=smoke ;;
        --events)
            [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
            events_override=$2
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

# What every measurement shares.
concurrency=64
body_size=1024
source_secret=bench-secret
sink_secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

case $mode in
    full)
        profile=release reps=3 events=100000 drain_timeout=10m
        bound=(--duration 10s)
        ;;
    quick)
        profile=release reps=1 events=10000 drain_timeout=2m
        bound=(--requests "$events")
        ;;
    smoke)
        profile=debug reps=1 events=1000 drain_timeout=1m
        bound=(--requests "$events")
        ;;
esac
if [[ -n $events_override ]]; then
    # The drain's timeout is a safety net only: generous for a slow store.
    events=$events_override drain_timeout="$((events / 200 + 60))s"
fi

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Building, processes and ports.

build() {
    local flags=(-p hookd -p hookd-bench)
    [[ $profile == release ]] && flags+=(--release)
    say "cargo build ${flags[*]}"
    (cd "$root" && cargo build --quiet "${flags[@]}")
    bin="${CARGO_TARGET_DIR:-$root/target}/$profile"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/hookd-bench.XXXXXX")
results="$work/results.jsonl"
commands="$work/commands.txt"
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# note CMD...: the command as it could be typed, for the results (first repetition only):
# binaries by name, the temporary directory as $WORK, a watched process as $HOOKD_PID.
note() {
    ((rep == 1)) || return 0
    local arg text=""
    for arg; do
        [[ $arg =~ ^[A-Za-z0-9_./:=@%+,\$-]+$ ]] || arg=${arg@Q}
        text+="$arg "
    done
    text=${text% }
    text=${text//"$bin/"/}
    text=${text//"$work"/\$WORK}
    if [[ $text =~ --watch-pid\ [0-9]+ ]]; then
        text=${text/"${BASH_REMATCH[0]}"/--watch-pid \$HOOKD_PID}
    fi
    printf '%s\n' "$text" >>"$commands"
}

# start NAME CMD...: runs CMD in the background, its output in $work/NAME.log; sets $pid.
start() {
    local name=$1
    shift
    note "$@"
    "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}

# stop PID: SIGTERM, then waits for it to exit.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# A port nothing listens on now, below the kernel's range for outgoing connections, so that
# no client socket of this run (the load generator's, hookd's own) can be holding it when
# the server binds; never the same port twice in one run.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
((ephemeral_low > 12000)) || ephemeral_low=32768
free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % (ephemeral_low - 10000)))
        grep -qx "$port" "$work/ports" 2>/dev/null && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port" >>"$work/ports"
            echo "$port"
            return
        fi
    done
}

# wait_for NAME PID CHECK...: until CHECK succeeds, at most 30 s, failing with NAME's log
# when the process exits first.
wait_for() {
    local name=$1 watched=$2
    shift 2
    for _ in $(seq 1 300); do
        "$@" 2>/dev/null && return 0
        if ! kill -0 "$watched" 2>/dev/null; then
            tail -n 30 "$work/$name.log" >&2
            die "$name exited before it was ready"
        fi
        sleep 0.1
    done
    die "$name was not ready after 30 s"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }
ready() { curl -fsS -o /dev/null "http://127.0.0.1:$1/readyz"; }

# ---------------------------------------------------------------------------------------
# hookd and the figures.

# hookd_config SINK_PORT: the configuration of every hookd run. Source `bench` is signed
# the way `hookd-bench load --scheme generic-hmac` signs; every event goes to queue
# `bench` and on to the sink.
hookd_config() {
    cat >"$work/hookd.toml" <<EOF
[server]
log_level = "warn"

[sources.bench]
preset = "generic-hmac"
secrets = ["$source_secret"]
signature_header = "x-signature"
encoding = "hex"
prefix = "sha256="
timestamp_header = "x-timestamp"
signed_payload = "{timestamp}.{body}"
event_type = { json = "/type" }
event_id = { json = "/id" }

[queues.bench]
concurrency = $concurrency

[destinations.sink]
url = "http://127.0.0.1:$1/hooks"
secret = "$sink_secret"
allow_private_network = true

[[routes]]
name = "bench"
source = "bench"
queue = "bench"
destination = "sink"
EOF
    "$bin/hookd" config check "$work/hookd.toml" >&2
}

# start_hookd DATA_DIR: a gateway on a fresh port; sets $pid and $hookd_port.
start_hookd() {
    hookd_port=$(free_port)
    start hookd "$bin/hookd" serve --config "$work/hookd.toml" --data-dir "$1" \
        --listen "127.0.0.1:$hookd_port"
    wait_for hookd "$pid" ready "$hookd_port"
}

# load URL FLAGS...: hookd-bench load with the shared settings; prints its JSON line and
# fails when any request was not answered 2xx.
load() {
    local url=$1 out
    shift
    local command=("$bin/hookd-bench" load --url "$url" --secret "$source_secret"
        --concurrency "$concurrency" --body-size "$body_size" "$@")
    note "${command[@]}"
    out=$("${command[@]}")
    [[ $out == *'"errors":{}'* ]] || die "requests to $url failed: $out"
    echo "$out"
}

# record ROW LOAD_JSON [DRAIN_JSON]: one line of the results.
record() {
    local line
    line=$(printf '{"row":"%s","rep":%d,"load":%s' "$1" "$rep" "$2")
    if (($# > 2)); then
        line+=",\"drain\":$3"
    fi
    printf '%s}\n' "$line" >>"$results"
}

# ---------------------------------------------------------------------------------------
# The measurements. Each runs once per repetition and records one line of the results.
#
# The peers, propagation and backlog measurements live in bench/lib, sourced below.

measure_limit() {
    say "Limit, repetition $rep"
    local port
    port=$(free_port)
    start limit "$bin/hookd-bench" limit --listen "127.0.0.1:$port"
    local server=$pid
    wait_for limit "$server" listening "$port"
    record limit "$(load "http://127.0.0.1:$port/in/bench" "${bound[@]}")"
    stop "$server"
}

measure_ingest() {
    say "Ingest, repetition $rep"
    local data="$work/ingest-$rep" token gateway paused
    hookd_config "$(free_port)"
    note "$bin/hookd" token create --config "$work/hookd.toml" --data-dir "$data" \
        --tenant '*' --scope admin
    token=$("$bin/hookd" token create --config "$work/hookd.toml" --data-dir "$data" \
        --tenant '*' --scope admin 2>/dev/null)
    start_hookd "$data"
    gateway=$pid
    note curl -fsS -X POST -H "authorization: Bearer TOKEN" \
        "http://127.0.0.1:$hookd_port/v1/queues/bench/pause"
    paused=$(curl -fsS -X POST -H "authorization: Bearer $token" \
        "http://127.0.0.1:$hookd_port/v1/queues/bench/pause")
    [[ $paused == *'"paused":true'* ]] || die "queue bench was not paused: $paused"
    record ingest "$(load "http://127.0.0.1:$hookd_port/in/bench" "${bound[@]}" \
        --watch-pid "$gateway")"
    stop "$gateway"
}

measure_end_to_end() {
    say "End to end, repetition $rep"
    local sink_port sink gateway sent="$work/sent-$rep.tsv" out="$work/sink-$rep.jsonl"
    local load_json drain_json
    sink_port=$(free_port)
    start sink "$bin/hookd" sink --listen "127.0.0.1:$sink_port" --secret "$sink_secret" \
        --out "$out"
    sink=$pid
    wait_for sink "$sink" listening "$sink_port"
    hookd_config "$sink_port"
    start_hookd "$work/end-to-end-$rep"
    gateway=$pid
    # Always a count, so that the drain knows when it is done.
    load_json=$(load "http://127.0.0.1:$hookd_port/in/bench" --requests "$events" \
        --sent "$sent")
    note "$bin/hookd-bench" drain --sink-out "$out" --sent "$sent" --timeout "$drain_timeout"
    drain_json=$("$bin/hookd-bench" drain --sink-out "$out" --sent "$sent" \
        --timeout "$drain_timeout")
    record end_to_end "$load_json" "$drain_json"
    stop "$gateway"
    stop "$sink"
}

# Peers and hookd on PostgreSQL, full mode only.
source "$root/bench/lib/peers.sh"

# Backlog, memory and restart (full mode).
# shellcheck source=bench/lib/backlog.sh
source "$root/bench/lib/backlog.sh"

# Configuration propagation between two nodes on PostgreSQL (every mode).
# shellcheck source=bench/lib/propagation.sh
source "$root/bench/lib/propagation.sh"

# ---------------------------------------------------------------------------------------
# The report.

machine() {
    local cpu memory
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    printf -- '- CPU: %s, %s cores online (`nproc`)\n' "${cpu:-unknown}" "$(nproc)"
    printf -- '- Memory: %s\n' "$memory"
    printf -- '- Kernel: %s\n' "$(uname -sr)"
}

versions() {
    local rev
    rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        rev+=" with uncommitted changes"
    fi
    printf -- '- hookd: %s (%s build)\n' "$rev" "$profile"
    printf -- '- %s\n' "$(rustc --version)"
    if [[ $mode == full ]]; then peers_versions; fi
}

# thousands N: N with a comma every three digits.
thousands() { sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta' <<<"$1"; }

describe_mode() {
    case $mode in
        full) printf '3 repetitions, median (min–max); Limit and Ingest 10 s each, End to end %s events; peers %s jobs each' "$(thousands "$events")" "$(thousands "$events")" ;;
        quick) printf -- '--quick: 1 repetition, %s events for End to end, 10,000 for the others' "$(thousands "$events")" ;;
        smoke) echo "--smoke: 1 repetition, 1,000 events, debug build (figures not meaningful)" ;;
    esac
}

# ---------------------------------------------------------------------------------------

build
if [[ $mode == full ]]; then peers_prepare; fi
rep=0
for rep in $(seq 1 "$reps"); do
    measure_limit
    measure_ingest
    measure_end_to_end
    if [[ $mode == full ]]; then
        measure_end_to_end_postgres
        measure_peers
    fi
done
measure_propagation
measure_backlogs

table=$("$bin/hookd-bench" report "$results")
if [[ $mode == full ]]; then table=$(peers_table "$table"); fi
table+=$'\n\n'$(propagation_table)
if [[ -s $backlog_results ]]; then
    table+=$'\n\n'$(backlog_table)
fi
printf '\n%s\n' "$table"

[[ $mode == smoke ]] && exit 0

date=$(date +%F)
host=$(uname -n)
# The full run's file is <date>-<host>.md; other runs say what they were, so that a quick
# check made after a full run does not overwrite it.
suffix=""
[[ $mode == full ]] || suffix+="-$mode"
[[ -z $events_override ]] || suffix+="-$events_override-events"
file="$root/bench/results/$date-$host$suffix.md"
mkdir -p "$root/bench/results"
{
    printf '# hookd benchmark, %s, %s\n\n' "$date" "$host"
    printf '%s; concurrency %d, %d-byte JSON bodies.\n\n' "$(describe_mode)" \
        "$concurrency" "$body_size"
    printf '%s\n\n' "$table"
    printf '## Machine\n\n%s\n\n' "$(machine)"
    printf '## Versions\n\n%s\n\n' "$(versions)"
    printf '## hookd configuration\n\n```toml\n'
    sed 's|^url = "http://127.0.0.1:[0-9]*/|url = "http://127.0.0.1:SINK_PORT/|' "$work/hookd.toml"
    printf '```\n\n'
    if [[ $mode == full ]]; then printf '## Peer settings\n\n%s\n\n' "$(peers_settings)"; fi
    cat <<'EOF'
## Commands

`$WORK` is a fresh temporary directory, `TOKEN` the admin token `hookd token create`
printed and `$HOOKD_PID` the gateway's process id; ports are chosen free.

```sh
EOF
    invocation="bench/run.sh"
    [[ $mode == full ]] || invocation+=" --$mode"
    [[ -z $events_override ]] || invocation+=" --events $events_override"
    echo "$invocation"
    cat "$commands"
    echo '```'
} >"$file"
say "written to ${file#"$root"/}"
