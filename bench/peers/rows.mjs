// The peer measurements of a run, for bench/run.sh's report:
//
//   node rows.mjs rows RESULTS       the Markdown table rows, in the columns of
//                                    `hookd-bench report` and with its treatment of
//                                    repetitions (one value as it is, several as
//                                    `median (min–max)`)
//   node rows.mjs versions RESULTS   the versions the peers ran, as Markdown list items
//   node rows.mjs settings RESULTS   the settings each peer ran with, as list items
//
// RESULTS has one JSON line per measurement and repetition, written by bench/lib/peers.sh:
//   {"row": "hookd_postgres", "rep": N, "load": <hookd-bench load>, "drain": <hookd-bench drain>}
//   {"row": "bullmq" | "graphile-worker" | "pg-boss", "rep": N, "peer": <the peer's line>}
// Each peer gives two rows: its bulk enqueue rate and its no-op processing rate.

import { readFileSync } from "node:fs";

const PEERS = [
  ["bullmq", "BullMQ on Redis", "addBulk"],
  ["graphile-worker", "graphile-worker on PostgreSQL", "addJobs"],
  ["pg-boss", "pg-boss on PostgreSQL", "insert"],
];

const [command, file] = process.argv.slice(2);
const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
const byRow = new Map();
for (const line of lines) {
  const m = JSON.parse(line);
  if (!byRow.has(m.row)) byRow.set(m.row, []);
  byRow.get(m.row).push(m);
}

if (command === "versions" || command === "settings") {
  for (const [key, label] of PEERS) {
    const first = byRow.get(key)?.[0]?.peer;
    if (!first) continue;
    const what = command === "versions" ? first.versions : first.settings;
    const text = Object.entries(what)
      .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(", ");
    console.log(`- ${label}: ${text}`);
  }
  process.exit(0);
}
if (command !== "rows") {
  console.error("usage: node rows.mjs rows|versions|settings RESULTS");
  process.exit(2);
}

const out = [];
const hookd = byRow.get("hookd_postgres");
if (hookd) {
  const errors = hookd
    .flatMap((m) => Object.values(m.load.errors))
    .reduce((a, b) => a + b, 0);
  out.push(
    row("End to end, hookd on PostgreSQL (hookd → sink)", [
      summarise(hookd.map((m) => m.drain.events), thousands),
      summarise(hookd.map((m) => m.drain.events_per_s), thousands),
      summarise(hookd.map((m) => m.drain.latency_ms.p50), millis),
      summarise(hookd.map((m) => m.drain.latency_ms.p99), millis),
      summarise(hookd.map((m) => m.drain.latency_ms.p99_9), millis),
      String(errors),
    ]),
  );
}
for (const [key, label, api] of PEERS) {
  const reps = byRow.get(key);
  if (!reps) continue;
  const jobs = summarise(reps.map((m) => m.peer.jobs), thousands);
  const concurrency = reps[0].peer.concurrency;
  for (const [what, phase] of [
    [`enqueue (${api}, 1,000 per call)`, "enqueue"],
    [`no-op jobs, ${concurrency} at a time`, "process"],
  ]) {
    out.push(
      row(`${label}: ${what}`, [
        jobs,
        summarise(reps.map((m) => m.peer[phase].jobs_per_s), thousands),
        "–",
        "–",
        "–",
        "0",
      ]),
    );
  }
}
process.stdout.write(out.map((r) => `${r}\n`).join(""));

// A row: label, events, rate, p50, p99, p99.9, errors, then hookd's CPU, RSS and the
// rate and p99 against the limit's, which these rows do not have.
function row(label, cells) {
  return `| ${label} | ${cells.join(" | ")} | – | – | – | – |`;
}

function summarise(values, format) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return "–";
  if (sorted.length === 1) return format(sorted[0]);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return `${format(median)} (${format(sorted[0])}–${format(sorted.at(-1))})`;
}

function millis(ms) {
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

function thousands(n) {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
