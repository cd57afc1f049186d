// BullMQ on Redis, the peer of hookd's end-to-end run (see common.mjs and bench/run.sh):
// `node bullmq.mjs [--jobs N] [--concurrency C]`, Redis at $HOOKD_BENCH_REDIS_URL
// (default redis://127.0.0.1:6379).
//
// A fresh queue per run, obliterated at the end. Enqueue: `Queue.addBulk`, 1000 jobs per
// call (one MULTI per call). Processing: one `Worker` with a no-op processor at
// `concurrency` C, which is BullMQ's own knob for jobs in flight per worker; the clock runs
// from the worker's creation to its `completed` event for the last job (emitted once the
// job has been moved to the completed set). Jobs keep BullMQ's defaults (completed jobs
// are kept), as an application that does not tune retention would have them.

import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";

import { chunks, figures, log, now, options, run, runName, until, versions } from "./common.mjs";

run(async () => {
  const opts = options();
  const url = new URL(opts.redisUrl);
  const connection = {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // Required by BullMQ for the blocking connections of workers.
    maxRetriesPerRequest: null,
  };
  const name = runName("bullmq");
  const queue = new Queue(name, { connection });
  let worker;
  try {
    const batches = chunks(opts.jobs, name, (data) => ({ name: "bench", data }));
    await queue.waitUntilReady();

    log(`bullmq: enqueueing ${opts.jobs} jobs on queue ${name}`);
    const enqueueStart = now();
    for (const batch of batches) await queue.addBulk(batch);
    const enqueueEnd = now();
    const waiting = await queue.getWaitingCount();
    if (waiting !== opts.jobs) throw new Error(`${waiting} jobs waiting, not ${opts.jobs}`);

    log(`bullmq: processing at concurrency ${opts.concurrency}`);
    let completed = 0;
    let failed = 0;
    let processEnd = 0;
    const processStart = now();
    worker = new Worker(name, async () => {}, { connection, concurrency: opts.concurrency });
    worker.on("completed", () => {
      completed++;
      if (completed === opts.jobs) processEnd = now();
    });
    worker.on("failed", () => failed++);
    await until(() => completed + failed >= opts.jobs, { what: "the last completion" });
    if (failed > 0) throw new Error(`${failed} jobs failed`);

    console.log(
      JSON.stringify({
        peer: "bullmq",
        versions: { ...versions("bullmq", "ioredis"), redis: await redisVersion(connection) },
        jobs: opts.jobs,
        concurrency: opts.concurrency,
        enqueue: figures(opts.jobs, enqueueStart, enqueueEnd),
        process: figures(opts.jobs, processStart, processEnd),
        settings: { addBulk_chunk: 1000, workers: 1, worker_concurrency: opts.concurrency },
      }),
    );
  } finally {
    await worker?.close();
    await queue.obliterate({ force: true }).catch((err) => log(`bullmq: obliterate: ${err}`));
    await queue.close();
  }
});

async function redisVersion(connection) {
  const client = new IORedis(connection);
  try {
    const info = await client.info("server");
    return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  } finally {
    client.disconnect();
  }
}
