// `node schema.mjs drop NAME`: drops schema NAME (and everything in it) from the database
// at $HOOKD_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); used by
// bench/lib/peers.sh after hookd's run on PostgreSQL. `node schema.mjs version` prints the
// server's version.

import pg from "pg";

const [command, name] = process.argv.slice(2);
const db = new pg.Client({
  connectionString:
    process.env.HOOKD_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test",
});
await db.connect();
try {
  if (command === "drop" && /^[a-z_][a-z0-9_]*$/.test(name ?? "")) {
    await db.query(`drop schema if exists ${name} cascade`);
  } else if (command === "version") {
    console.log((await db.query("show server_version")).rows[0].server_version);
  } else {
    throw new Error("usage: node schema.mjs drop NAME | version");
  }
} finally {
  await db.end();
}
