# Backlog, memory and restart rows of bench/run.sh, which sources this file after its
# helpers (start, stop, note, hookd_config, start_hookd, free_port, …) are defined.
#
#   Backlog     claim-and-complete throughput with $backlog_small and with $backlog_large
#               jobs queued: the queue is paused, filled with `hookd-bench fill` (straight
#               into the embedded store, exactly what ingest would commit), then resumed
#               with hookd delivering to `hookd-bench limit`, which answers 200 at once;
#               jobs per second from the resume until the queue is empty
#   Memory      hookd's resident memory (VmRSS) idle, and with $backlog_large jobs
#               queued and the queue paused
#   Restart     hookd killed (SIGKILL) with $backlog_large jobs queued, then started again
#               on the same data directory: time until /readyz answers 200
#
# Each runs once per repetition, like the other rows ($reps: 3 in full mode), on a fresh
# data directory. Figures go to $work/backlog.jsonl, one JSON object a line with its
# repetition; backlog_table prints them as a Markdown table with their goals, each figure
# the median of the repetitions with their range, judged by its median.

backlog_results="$work/backlog.jsonl"

# backlog_record JSON: one line of the backlog results, tagged with the repetition.
backlog_record() { jq -c --argjson rep "$rep" '. + {rep: $rep}' <<<"$1" >>"$backlog_results"; }

# vm_rss_mib PID: the resident memory of PID now, in MiB.
vm_rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# admin_token DATA_DIR: an admin token for the management API of hookd on DATA_DIR.
admin_token() {
    note "$bin/hookd" token create --config "$work/hookd.toml" --data-dir "$1" \
        --tenant '*' --scope admin
    "$bin/hookd" token create --config "$work/hookd.toml" --data-dir "$1" \
        --tenant '*' --scope admin 2>/dev/null
}

# measure_backlog JOBS: fills a paused queue with JOBS events of one job each and times
# hookd working it off. With $backlog_large jobs, also the memory with them queued and
# the restart; on the first, empty start, the idle memory.
measure_backlog() {
    local jobs=$1 data="$work/backlog-$1-$rep" limit_port limit gateway token fill_json
    say "Backlog, $jobs jobs queued, repetition $rep"
    limit_port=$(free_port)
    start limit "$bin/hookd-bench" limit --listen "127.0.0.1:$limit_port"
    limit=$pid
    wait_for limit "$limit" listening "$limit_port"
    hookd_config "$limit_port"
    token=$(admin_token "$data")

    start_hookd "$data"
    gateway=$pid
    if [[ $jobs == "$backlog_large" ]]; then
        sleep 1
        backlog_record "{\"row\":\"rss_idle\",\"rss_mib\":$(vm_rss_mib "$gateway")}"
    fi
    note curl -fsS -X POST -H "authorization: Bearer TOKEN" \
        "http://127.0.0.1:$hookd_port/v1/queues/bench/pause"
    curl -fsS -o /dev/null -X POST -H "authorization: Bearer $token" \
        "http://127.0.0.1:$hookd_port/v1/queues/bench/pause"
    stop "$gateway"

    local fill=("$bin/hookd-bench" fill --config "$work/hookd.toml" --data-dir "$data"
        --url "http://127.0.0.1:$hookd_port/in/bench" --events "$jobs"
        --body-size "$body_size")
    note "${fill[@]}"
    fill_json=$("${fill[@]}")
    backlog_record "{\"row\":\"fill\",\"jobs\":$jobs,\"fill\":$fill_json}"

    start_hookd "$data"
    gateway=$pid
    if [[ $jobs == "$backlog_large" ]]; then
        sleep 1
        backlog_record "{\"row\":\"rss_queued\",\"jobs\":$jobs,\"rss_mib\":$(vm_rss_mib "$gateway")}"
        # As note would write it (first repetition only), with the watched process as
        # $HOOKD_PID.
        # shellcheck disable=SC2016
        ((rep != 1)) || printf '%s\n' 'kill -KILL $HOOKD_PID' >>"$commands"
        kill -KILL "$gateway"
        wait "$gateway" 2>/dev/null || true
        backlog_restart "$data" "$jobs"
        gateway=$pid
    fi

    local backlog=("$bin/hookd-bench" backlog --url "http://127.0.0.1:$hookd_port"
        --queue bench)
    note "${backlog[@]}" --token TOKEN
    backlog_record "{\"row\":\"backlog\",\"jobs\":$jobs,\"backlog\":$(HOOKD_BENCH_TOKEN=$token "${backlog[@]}")}"
    stop "$gateway"
    stop "$limit"
    # A million events take over a gigabyte; the next repetition starts afresh anyway.
    rm -rf "$data"
}

# backlog_restart DATA_DIR JOBS: starts hookd on DATA_DIR and records the time until
# /readyz answers 200, polled every 10 ms; sets $pid and $hookd_port as start_hookd does.
backlog_restart() {
    local started ready_ms
    hookd_port=$(free_port)
    started=$(date +%s%N)
    start hookd "$bin/hookd" serve --config "$work/hookd.toml" --data-dir "$1" \
        --listen "127.0.0.1:$hookd_port"
    until ready "$hookd_port" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$work/hookd.log" >&2; die "hookd exited on restart"; }
        (($(date +%s%N) - started < 60000000000)) || die "hookd was not ready 60 s after restart"
        sleep 0.01
    done
    ready_ms=$((($(date +%s%N) - started) / 1000000))
    backlog_record "{\"row\":\"restart\",\"jobs\":$2,\"ready_ms\":$ready_ms}"
}

# backlog_table: the Markdown table of the backlog results, each figure with its goal.
backlog_table() {
    jq -rs --argjson small "$backlog_small" --argjson large "$backlog_large" '
        def n: tostring | until(test("^[0-9]{4}") | not; sub("(?<a>[0-9])(?<b>[0-9]{3})(?<c>$|,)"; "\(.a),\(.b)\(.c)"));
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        # The values of one figure: their median, and "median (min–max)" formatted by f.
        def show(f): if length == 1 then (.[0] | f) else "\(median | f) (\(min | f)–\(max | f))" end;
        def row(r): map(select(.row == r));
        def jobs(j): map(select(.jobs == j));
        def secs: . / 1000 * 100 | round / 100 | tostring;
        (row("backlog") | jobs($small) | map(.backlog.jobs_per_s)) as $rs
        | (row("backlog") | jobs($large) | map(.backlog.jobs_per_s)) as $rl
        | [range(0; [$rs, $rl] | map(length) | min) | $rl[.] / $rs[.] * 100] as $share
        | (row("rss_idle") | map(.rss_mib)) as $idle
        | (row("rss_queued") | map(.rss_mib)) as $queued
        | (row("restart") | map(.ready_ms)) as $ready
        | (row("fill") | jobs($large) | map(.fill.events_per_s)) as $fill
        | def met(ok): if ok then "yes" else "no" end;
          "| Measurement | Jobs queued | Figure | Goal | Met |",
          "|---|--:|--:|--:|:-:|",
          "| Backlog: claim and complete (hookd → limit) | \($small | n) | \($rs | show(round | n)) jobs/s | – | – |",
          "| Backlog: claim and complete (hookd → limit) | \($large | n) | \($rl | show(round | n)) jobs/s; \($share | show(round | tostring)) % of \($small | n) in the same repetition | ≥ 90 % | \(met(($share | median) >= 90)) |",
          "| Fill (`hookd-bench fill`, not hookd) | \($large | n) | \($fill | show(round | n)) events/s | – | – |",
          "| hookd RSS, idle | 0 | \($idle | show(round | tostring)) MiB | ≤ 50 MiB | \(met(($idle | median) <= 50)) |",
          "| hookd RSS, queue paused | \($large | n) | \($queued | show(round | tostring)) MiB | ≤ 250 MiB | \(met(($queued | median) <= 250)) |",
          "| Restart (SIGKILL, start to /readyz 200) | \($large | n) | \($ready | show(secs)) s | ≤ 2 s | \(met(($ready | median) <= 2000)) |"
    ' "$backlog_results"
}

# The sizes of each mode: full 10k against 1M; --quick and --smoke skip these rows.
case $mode in
    full) backlog_small=10000 backlog_large=1000000 ;;
    *) backlog_small="" backlog_large="" ;;
esac

# measure_backlogs: every row of this file, once, when the mode has them.
measure_backlogs() {
    [[ -n $backlog_large ]] || return 0
    local rep
    for rep in $(seq 1 "$reps"); do
        measure_backlog "$backlog_small"
        measure_backlog "$backlog_large"
    done
}
