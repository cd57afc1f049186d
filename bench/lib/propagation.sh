# bench/lib/propagation.sh, sourced by bench/run.sh after bench/lib/peers.sh: how long a
# configuration edit made through one node is not yet in force on another node sharing
# its PostgreSQL store, in every mode.
#
#   Propagation   two `hookd serve` nodes on one fresh schema of the database at
#                 $HOOKD_BENCH_DATABASE_URL; `hookd-bench propagation` rotates source
#                 `bench`'s secret through the first $propagation_rounds times and, after
#                 each edit is answered, probes the second with the new secret until it
#                 accepts one: the delay of each round, from the edit's answer to that
#                 acceptance. The schema is dropped after (psql).
#
# Figures go to $work/propagation.jsonl; propagation_table prints them as a Markdown
# table.

propagation_results="$work/propagation.jsonl"

case $mode in
    full) propagation_rounds=50 ;;
    quick) propagation_rounds=20 ;;
    *) propagation_rounds=5 ;;
esac

# postgres_config SCHEMA OUT: $work/hookd.toml with hookd storing in SCHEMA of the
# database at $HOOKD_BENCH_DATABASE_URL, written to OUT.
postgres_config() {
    HOOKD_BENCH_SCHEMA=$1 awk '
        { print }
        /^\[server\]$/ {
            print "database_url = \"" ENVIRON["HOOKD_BENCH_DATABASE_URL"] "\""
            print "database_schema = \"" ENVIRON["HOOKD_BENCH_SCHEMA"] "\""
        }' "$work/hookd.toml" >"$2"
}

# postgres_check: fails the run unless psql reaches the database.
postgres_check() {
    command -v psql >/dev/null || die "the PostgreSQL measurements need psql (its client)"
    psql -q "$HOOKD_BENCH_DATABASE_URL" -c 'SELECT 1' >/dev/null ||
        die "no PostgreSQL at $HOOKD_BENCH_DATABASE_URL (HOOKD_BENCH_DATABASE_URL)"
}

# drop_schema SCHEMA: removes a schema the run made.
drop_schema() {
    note psql "\$HOOKD_BENCH_DATABASE_URL" -c "DROP SCHEMA $1 CASCADE"
    PGOPTIONS="-c client_min_messages=warning" psql -q "$HOOKD_BENCH_DATABASE_URL" \
        -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null
}

measure_propagation() {
    say "Propagation between two nodes on PostgreSQL"
    # Runs once, after the repetitions: its commands go to the results like the first
    # repetition's.
    local rep=1
    postgres_check
    local schema="hookd_bench_propagation_$$_$RANDOM" config="$work/hookd-propagation.toml"
    local token edit edit_port probe probe_port
    hookd_config "$(free_port)"
    postgres_config "$schema" "$config"
    note "$bin/hookd" token create --config "$config" --data-dir "$work/propagation-a" \
        --tenant '*' --scope admin
    token=$("$bin/hookd" token create --config "$config" --data-dir "$work/propagation-a" \
        --tenant '*' --scope admin 2>/dev/null)

    edit_port=$(free_port)
    start hookd "$bin/hookd" serve --config "$config" --data-dir "$work/propagation-a" \
        --listen "127.0.0.1:$edit_port"
    edit=$pid
    wait_for hookd "$edit" ready "$edit_port"
    probe_port=$(free_port)
    start hookd-b "$bin/hookd" serve --config "$config" --data-dir "$work/propagation-b" \
        --listen "127.0.0.1:$probe_port"
    probe=$pid
    wait_for hookd-b "$probe" ready "$probe_port"

    local command=("$bin/hookd-bench" propagation --edit-url "http://127.0.0.1:$edit_port"
        --probe-url "http://127.0.0.1:$probe_port" --rounds "$propagation_rounds"
        --body-size "$body_size")
    note "${command[@]}" --token TOKEN
    HOOKD_BENCH_TOKEN=$token "${command[@]}" >>"$propagation_results"
    stop "$probe"
    stop "$edit"
    drop_schema "$schema"
}

# propagation_table: the Markdown table of the propagation results.
propagation_table() {
    jq -r '
        def ms: . * 100 | round / 100;
        "| Measurement | Rounds | p50 ms | p99 ms | max ms |",
        "|---|--:|--:|--:|--:|",
        "| Config edit through node A in force on node B (2 nodes on PostgreSQL) | \(.rounds) | \(.delay_ms.p50 | ms) | \(.delay_ms.p99 | ms) | \(.delay_ms.max | ms) |"
    ' "$propagation_results"
}
