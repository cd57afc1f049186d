// graphile-worker on PostgreSQL, a peer of hookd's end-to-end run (see common.mjs and
// bench/run.sh): `node graphile-worker.mjs [--jobs N] [--concurrency C]`, the database at
// $HOOKD_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
//
// A fresh schema per run (graphile-worker's migrations create it), dropped at the end.
// Enqueue: `WorkerUtils.addJobs`, 1000 jobs per call (one `add_jobs` statement each).
// Processing: no-op task, C jobs in flight in all; the clock runs from the start of the
// workers until the last job's row is gone (graphile-worker deletes a job on completion,
// so this is the commit of the last completion, batched or not).
//
// Tuned as graphile-worker's performance documentation advises
// (https://worker.graphile.org/docs/performance):
// - Several worker instances rather than one with all the concurrency: INSTANCES (2, one
//   per core of the benchmark machine) runners in this process, C / INSTANCES jobs each
//   (`concurrentJobs`), so that C jobs are in flight in all.
// - `maxPoolSize` = concurrentJobs + 2, the documented advice ("10 or concurrentJobs + 2,
//   whichever is larger").
// - `localQueue.size` = 4 × concurrentJobs: each runner locks and fetches a batch of jobs
//   in one query and hands them to its workers without a round trip per job; the docs
//   advise starting at concurrentJobs + 1 and going "much higher" for very fast tasks with
//   high throughput, which no-op jobs over a full queue are.
// - `completeJobBatchDelay` = 0: completions from the same tick of the event loop are
//   committed in one statement (the docs: "even setting this to 0 can be impactful"); a
//   longer delay would keep finished jobs locked without making the run faster here.
// - `pollInterval` = 100 ms instead of 2 s: the jobs are all queued before the workers
//   start, so polling matters only for noticing the queue is empty; jobs added later
//   arrive through LISTEN/NOTIFY anyway.

import pg from "pg";
import { Logger, makeWorkerUtils, run as runWorker } from "graphile-worker";

import { chunks, figures, log, now, options, run, runName, until, versions } from "./common.mjs";

const INSTANCES = 2;

// graphile-worker's default logger prints to standard output, which carries the figures.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") log(`graphile-worker ${level}: ${message}`);
});

run(async () => {
  const opts = options();
  const schema = runName("graphile_worker");
  const perInstance = Math.ceil(opts.concurrency / INSTANCES);
  const settings = {
    instances: INSTANCES,
    concurrentJobs: perInstance,
    maxPoolSize: Math.max(10, perInstance + 2),
    pollInterval: 100,
    localQueue: { size: 4 * perInstance },
    completeJobBatchDelay: 0,
    addJobs_chunk: 1000,
  };
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  await db.connect();
  const utils = await makeWorkerUtils({ connectionString: opts.databaseUrl, schema, logger });
  const runners = [];
  try {
    await utils.migrate();
    const batches = chunks(opts.jobs, schema, (payload) => ({ identifier: "bench", payload }));

    log(`graphile-worker: enqueueing ${opts.jobs} jobs in schema ${schema}`);
    const enqueueStart = now();
    for (const batch of batches) await utils.addJobs(batch);
    const enqueueEnd = now();
    const queued = await remaining(db, schema);
    if (queued !== opts.jobs) throw new Error(`${queued} jobs queued, not ${opts.jobs}`);

    log(`graphile-worker: processing, ${INSTANCES} instances × ${perInstance} jobs`);
    let done = 0;
    const processStart = now();
    for (let i = 0; i < INSTANCES; i++) {
      runners.push(
        await runWorker({
          logger,
          noHandleSignals: true,
          taskList: {
            bench: async () => {
              done++;
            },
          },
          preset: {
            worker: {
              connectionString: opts.databaseUrl,
              schema,
              concurrentJobs: settings.concurrentJobs,
              maxPoolSize: settings.maxPoolSize,
              pollInterval: settings.pollInterval,
              localQueue: settings.localQueue,
              completeJobBatchDelay: settings.completeJobBatchDelay,
            },
          },
        }),
      );
    }
    await until(() => done >= opts.jobs, { what: "the last job" });
    await until(async () => (await remaining(db, schema)) === 0, {
      what: "the last completion",
    });
    const processEnd = now();

    const server = await db.query("show server_version");
    console.log(
      JSON.stringify({
        peer: "graphile-worker",
        versions: {
          ...versions("graphile-worker", "pg"),
          postgresql: server.rows[0].server_version,
        },
        jobs: opts.jobs,
        concurrency: opts.concurrency,
        enqueue: figures(opts.jobs, enqueueStart, enqueueEnd),
        process: figures(opts.jobs, processStart, processEnd),
        settings,
      }),
    );
  } finally {
    for (const runner of runners) await runner.stop().catch((err) => log(`stop: ${err}`));
    await utils.release();
    await db.query(`drop schema if exists ${schema} cascade`);
    await db.end();
  }
});

async function remaining(db, schema) {
  const { rows } = await db.query(`select count(*)::int as n from ${schema}._private_jobs`);
  return rows[0].n;
}
