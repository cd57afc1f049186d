// What the peer measurements share: their arguments, the jobs, the clock and the output.
//
// Every peer script takes `--jobs N` (default 10000) and `--concurrency C` (default 50),
// enqueues N jobs whose data is a unique 1 KiB JSON object, built before the clock
// starts, in chunks of 1000 per bulk call, then starts no-op workers that process C jobs
// at a time until all N are done, and prints one JSON line:
//
//   {"peer": ..., "versions": {...}, "jobs": N, "concurrency": C,
//    "enqueue": {"seconds": s, "jobs_per_s": r}, "process": {"seconds": s, "jobs_per_s": r},
//    "settings": {...}}
//
// Progress and problems go to standard error.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

export const CHUNK = 1000;
export const BODY_SIZE = 1024;

export function options() {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "50" },
    },
  });
  const jobs = Number.parseInt(values.jobs, 10);
  const concurrency = Number.parseInt(values.concurrency, 10);
  if (!(jobs > 0) || !(concurrency > 0)) {
    throw new Error("--jobs and --concurrency must be positive integers");
  }
  return {
    jobs,
    concurrency,
    redisUrl: process.env.HOOKD_BENCH_REDIS_URL || "redis://127.0.0.1:6379",
    databaseUrl:
      process.env.HOOKD_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test",
  };
}

// The data of job `i`: a JSON object of exactly BODY_SIZE bytes, shaped like the events
// hookd-bench load sends (an id, a type and padding).
export function payload(i, run) {
  const base = { id: `${run}-${i}`, type: "bench.event", data: "" };
  const pad = BODY_SIZE - Buffer.byteLength(JSON.stringify(base));
  base.data = "x".repeat(Math.max(0, pad));
  return base;
}

// The payloads of a run, in chunks of CHUNK, each chunk mapped by `wrap`.
export function chunks(jobs, run, wrap) {
  const out = [];
  for (let start = 0; start < jobs; start += CHUNK) {
    const chunk = [];
    for (let i = start; i < Math.min(jobs, start + CHUNK); i++) chunk.push(wrap(payload(i, run)));
    out.push(chunk);
  }
  return out;
}

// A name unique to this run: `hookd_bench_<peer>_<time>_<random>`, safe as a schema name.
export function runName(peer) {
  const random = Math.random().toString(36).slice(2, 8);
  return `hookd_bench_${peer}_${Date.now().toString(36)}_${random}`;
}

export const now = () => performance.now();

export function figures(jobs, startMs, endMs) {
  const seconds = (endMs - startMs) / 1000;
  return { seconds: round(seconds, 3), jobs_per_s: round(jobs / seconds, 1) };
}

const round = (v, digits) => Number(v.toFixed(digits));

// The installed version of each package, from its own package.json.
export function versions(...names) {
  const require = createRequire(import.meta.url);
  const out = { node: process.versions.node };
  for (const name of names) {
    const path = require.resolve(`${name}/package.json`);
    out[name] = JSON.parse(readFileSync(path, "utf8")).version;
  }
  return out;
}

export function log(...args) {
  console.error(...args);
}

// Waits until `check()` is true, polling every `everyMs`; fails after `timeoutMs`.
export async function until(check, { everyMs = 5, timeoutMs = 600_000, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

// Runs `main` and exits non-zero with its error on failure.
export function run(main) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err?.stack || String(err));
      process.exit(1);
    },
  );
}
