# bench/lib/peers.sh, sourced by bench/run.sh: the measurements next to hookd's end-to-end
# run, in full mode only (--quick and --smoke skip them).
#
#   End to end, hookd on PostgreSQL   the End to end measurement with hookd storing in a
#                                     fresh schema of the PostgreSQL database at
#                                     $HOOKD_BENCH_DATABASE_URL (database_url and
#                                     database_schema), dropped after
#   BullMQ on Redis                   bench/peers/bullmq.mjs, Redis at $HOOKD_BENCH_REDIS_URL
#   graphile-worker on PostgreSQL     bench/peers/graphile-worker.mjs
#   pg-boss on PostgreSQL             bench/peers/pg-boss.mjs
#
# Each peer script enqueues the run's number of events as jobs with 1 KiB JSON data
# through its bulk API, then works them off with a no-op handler, $peer_concurrency at a
# time, and prints one JSON line: both rates, its settings and the versions (see
# bench/peers/common.mjs). They need Node.js 20 or newer; `npm ci` installs their locked
# dependencies into bench/peers/node_modules when it is missing.
#
# postgres_config and drop_schema come from bench/lib/propagation.sh.
#
# Uses run.sh's $root, $work, $bin, $rep, $events, $concurrency, $body_size and its
# helpers (say, die, note, start, stop, free_port, wait_for, ready, listening, load,
# hookd_config).

peers_dir="$root/bench/peers"
peer_results="$work/peers.jsonl"
peer_concurrency=50
export HOOKD_BENCH_DATABASE_URL="${HOOKD_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export HOOKD_BENCH_REDIS_URL="${HOOKD_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

# peers_prepare: checks Node.js, Redis and PostgreSQL before any measurement runs, and
# installs the peers' dependencies when they are missing.
peers_prepare() {
    command -v node >/dev/null || die "the peer measurements need Node.js 20 or newer (node)"
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || die "the peer measurements need Node.js 20 or newer, not $(node -v)"
    if [[ ! -d $peers_dir/node_modules ]]; then
        say "npm ci (bench/peers)"
        (cd "$peers_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
    fi
    local address='^[a-z]+://([^@/]*@)?([^:/?]+)(:([0-9]+))?'
    [[ $HOOKD_BENCH_REDIS_URL =~ $address ]] || die "cannot read HOOKD_BENCH_REDIS_URL"
    (exec 3<>"/dev/tcp/${BASH_REMATCH[2]}/${BASH_REMATCH[4]:-6379}") 2>/dev/null ||
        die "no Redis at $HOOKD_BENCH_REDIS_URL (HOOKD_BENCH_REDIS_URL)"
    postgres_check
}

# measure_end_to_end_postgres: measure_end_to_end with hookd on PostgreSQL.
measure_end_to_end_postgres() {
    say "End to end on PostgreSQL, repetition $rep"
    local sink_port sink gateway sent="$work/sent-postgres-$rep.tsv"
    local out="$work/sink-postgres-$rep.jsonl" schema="hookd_bench_${rep}_$$_$RANDOM"
    local load_json drain_json
    sink_port=$(free_port)
    start sink "$bin/hookd" sink --listen "127.0.0.1:$sink_port" --secret "$sink_secret" \
        --out "$out"
    sink=$pid
    wait_for sink "$sink" listening "$sink_port"
    hookd_config "$sink_port"
    postgres_config "$schema" "$work/hookd-postgres.toml"
    hookd_port=$(free_port)
    start hookd "$bin/hookd" serve --config "$work/hookd-postgres.toml" \
        --data-dir "$work/end-to-end-postgres-$rep" --listen "127.0.0.1:$hookd_port"
    gateway=$pid
    wait_for hookd "$gateway" ready "$hookd_port"
    load_json=$(load "http://127.0.0.1:$hookd_port/in/bench" --requests "$events" \
        --sent "$sent")
    note "$bin/hookd-bench" drain --sink-out "$out" --sent "$sent" --timeout "$drain_timeout"
    drain_json=$("$bin/hookd-bench" drain --sink-out "$out" --sent "$sent" \
        --timeout "$drain_timeout")
    printf '{"row":"hookd_postgres","rep":%d,"load":%s,"drain":%s}\n' \
        "$rep" "$load_json" "$drain_json" >>"$peer_results"
    stop "$gateway"
    stop "$sink"
    drop_schema "$schema"
}

# measure_peers: BullMQ, graphile-worker and pg-boss, each on $events jobs.
measure_peers() {
    local peer out
    for peer in bullmq graphile-worker pg-boss; do
        say "$peer, repetition $rep"
        note node "bench/peers/$peer.mjs" --jobs "$events" --concurrency "$peer_concurrency"
        out=$(node "$peers_dir/$peer.mjs" --jobs "$events" --concurrency "$peer_concurrency")
        printf '{"row":"%s","rep":%d,"peer":%s}\n' "$peer" "$rep" "$out" >>"$peer_results"
    done
}

# peers_table TABLE: TABLE with the peer rows after hookd's End to end row (at its end if
# it has none).
peers_table() {
    PEER_ROWS=$(node "$peers_dir/rows.mjs" rows "$peer_results") awk '
        { print }
        /^\| End to end \(hookd → sink\) \|/ { print ENVIRON["PEER_ROWS"]; done = 1 }
        END { if (!done) print ENVIRON["PEER_ROWS"] }' <<<"$1"
}

# peers_versions, peers_settings: Markdown list items for the results file.
peers_versions() { node "$peers_dir/rows.mjs" versions "$peer_results"; }
peers_settings() {
    printf -- '- hookd on PostgreSQL: the configuration above with `database_url = "%s"` and a\n  fresh `database_schema` per repetition, dropped after it\n' \
        "$(sed -E 's|//([^:@/]*):[^@/]*@|//\1:***@|' <<<"$HOOKD_BENCH_DATABASE_URL")"
    node "$peers_dir/rows.mjs" settings "$peer_results"
}
