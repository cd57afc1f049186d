// pg-boss on PostgreSQL, a peer of hookd's end-to-end run (see common.mjs and
// bench/run.sh): `node pg-boss.mjs [--jobs N] [--concurrency C]`, the database at
// $HOOKD_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
//
// A fresh schema per run (pg-boss creates it at start), dropped at the end. Enqueue:
// `insert`, 1000 jobs per call (one INSERT … SELECT over a JSON array each). Processing:
// C workers (`work()` called C times: pg-boss 10 has no per-worker concurrency, its
// documentation says to call `work()` again for more), each running a no-op handler; the
// clock runs from the start of the workers until no job is left created, retrying or
// active, i.e. the commit of the last completion.
//
// Tuned as pg-boss's documentation advises for throughput:
// - `pollingIntervalSeconds` = 0.5, the smallest pg-boss accepts (default 2). A pg-boss 10
//   worker waits out the interval after every fetch that took less than it, whether the
//   fetch found jobs or not, so one worker takes at most batchSize jobs per interval.
// - `batchSize` = BATCH_SIZE (10, or $HOOKD_BENCH_PGBOSS_BATCH_SIZE): each fetch locks and
//   returns that many jobs and their completion is one statement; this is pg-boss's knob
//   for throughput. With batchSize 1, C workers can take at most 2 × C jobs a second.
// - `max` (the pool) = C + 2, so that no worker waits for a connection.
// - `schedule: false`: no cron scheduling, which this run does not use.

import pg from "pg";
import PgBoss from "pg-boss";

import { chunks, figures, log, now, options, run, runName, until, versions } from "./common.mjs";

const BATCH_SIZE = Number.parseInt(process.env.HOOKD_BENCH_PGBOSS_BATCH_SIZE || "10", 10);
const QUEUE = "bench";

run(async () => {
  const opts = options();
  const schema = runName("pg_boss");
  const settings = {
    workers: opts.concurrency,
    batchSize: BATCH_SIZE,
    pollingIntervalSeconds: 0.5,
    max: opts.concurrency + 2,
    insert_chunk: 1000,
  };
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  await db.connect();
  const boss = new PgBoss({
    connectionString: opts.databaseUrl,
    schema,
    max: settings.max,
    schedule: false,
  });
  boss.on("error", (err) => log(`pg-boss error: ${err.message}`));
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    const batches = chunks(opts.jobs, schema, (data) => ({ name: QUEUE, data }));

    log(`pg-boss: enqueueing ${opts.jobs} jobs in schema ${schema}`);
    const enqueueStart = now();
    for (const batch of batches) await boss.insert(batch);
    const enqueueEnd = now();
    const queued = await remaining(db, schema);
    if (queued !== opts.jobs) throw new Error(`${queued} jobs queued, not ${opts.jobs}`);

    log(`pg-boss: processing, ${settings.workers} workers × batches of ${BATCH_SIZE}`);
    let done = 0;
    const processStart = now();
    for (let i = 0; i < settings.workers; i++) {
      await boss.work(
        QUEUE,
        { batchSize: BATCH_SIZE, pollingIntervalSeconds: settings.pollingIntervalSeconds },
        async (jobs) => {
          done += jobs.length;
        },
      );
    }
    await until(() => done >= opts.jobs, { what: "the last job" });
    await until(async () => (await remaining(db, schema)) === 0, {
      what: "the last completion",
    });
    const processEnd = now();
    const failed = await db.query(
      `select count(*)::int as n from ${schema}.job where name = $1 and state <> 'completed'`,
      [QUEUE],
    );
    if (failed.rows[0].n !== 0) throw new Error(`${failed.rows[0].n} jobs not completed`);

    const server = await db.query("show server_version");
    console.log(
      JSON.stringify({
        peer: "pg-boss",
        versions: { ...versions("pg-boss", "pg"), postgresql: server.rows[0].server_version },
        jobs: opts.jobs,
        concurrency: opts.concurrency,
        enqueue: figures(opts.jobs, enqueueStart, enqueueEnd),
        process: figures(opts.jobs, processStart, processEnd),
        settings,
      }),
    );
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch((err) => log(`stop: ${err}`));
    await db.query(`drop schema if exists ${schema} cascade`);
    await db.end();
  }
});

// Jobs of the bench queue not yet completed (nor failed).
async function remaining(db, schema) {
  const { rows } = await db.query(
    `select count(*)::int as n from ${schema}.job
     where name = $1 and state in ('created', 'retry', 'active')`,
    [QUEUE],
  );
  return rows[0].n;
}
