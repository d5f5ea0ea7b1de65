/**
 * `npm run bench:clients-page -- [--clients N] [--requests R] [--days D] [--settle S] [--runs 20] [--keep | --reuse NAME] [--explain]`
 *
 * Server time of the Clients page (SPEC §3, §10) with 100,000 clients and 10 million request-log rows
 * spread over 12 months (the log's monthly partitions, lib/db/partitions.ts), measured on a fresh
 * PostgreSQL database: (a) the data layer (`listClients`) and (b) the real page over HTTP against the
 * Lumen server (when a build exists), each against a trivial baseline measured in the same run. It also
 * prints the log's insert throughput: the seed's bulk insert, and the settlement statement (settleMany)
 * in batches of 256 as under load and one request at a time.
 * A benchmark, not a test: it prints numbers and fails only when it cannot run.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { settleMany, type SettleItem } from "@/lib/coins/settle";
import { MAX_BATCH } from "@/lib/coins/settle-queue";
import { rows, type Db } from "@/lib/db/client";
import { verifySeed } from "../scripts/seed/verify";
import { DEFAULT_SEED_MODELS, seedModelsFromConfig, type SeedModel } from "../scripts/seed/generate";
import { seedDatabase } from "../scripts/seed/load";
import { listClients } from "@/lib/clients/queries";
import { parseClientListParams } from "@/lib/clients/list-params";
import type { Viewer } from "@/lib/auth/permissions";
import { getConfig } from "@/lib/config";
import { benchConfig, BenchRun, fmt, hasBuild, measure, parseOptions, printTable, queryLog, runMain, Session, type Stats } from "./harness";
import { freePort } from "../tests/helpers/net";

const TARGET_MS = 50;
const USAGE = `Usage: npm run bench:clients-page -- [options]
  --clients N      clients to seed (default 100,000)
  --requests R     request-log rows to seed (default 10,000,000)
  --days D         days of log history to seed (default 365: twelve monthly partitions and more)
  --settle S       requests recorded through the settlement statement for its throughput (default 20,000)
  --runs N         timed requests per variant (default 20, after 3 warm-ups)
  --keep           keep the database afterwards (prints its name for --reuse)
  --reuse NAME     use (and keep) an existing bench database; seeds it only when it is empty
  --explain        print EXPLAIN (ANALYZE, BUFFERS) of every data-layer query
  --no-http        skip the HTTP part
Base server: env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
When the server runs without autovacuum, the clients table is vacuumed first, as autovacuum would;
env BENCH_NO_VACUUM=1 skips that.`;

type Query = Record<string, string>;
interface Variant {
  label: string;
  query: Query;
  as: "admin" | "manager";
}

/** Stands in for ./config.yaml when it cannot be read. */
const ECHO_CONFIG = { models: [{ name: "echo", input_cost_per_million: 0.5, output_cost_per_million: 1, endpoints: [{ url: "builtin:echo" }] }] };

function seedModels(): SeedModel[] {
  try {
    return seedModelsFromConfig(getConfig().models);
  } catch (err) {
    console.warn(`config not loaded (${(err as Error).message.split("\n")[0]}); seeding the built-in echo model`);
    return DEFAULT_SEED_MODELS;
  }
}

async function explainVariants(url: string, variants: Variant[], viewers: Record<Variant["as"], Viewer>) {
  const log = await queryLog(url);
  for (const v of variants) {
    log.captured.length = 0;
    await listClients(log.db, viewers[v.as], parseClientListParams(v.query));
    for (const q of [...log.captured]) await log.explain(q, v.label);
  }
  await log.end();
}

/**
 * Rows per second of the settlement statement into the seeded log: `n` requests of random clients and
 * keys (unlimited admissions, so only the log and the counters are written), in batches of MAX_BATCH as
 * the settle queue sends them under load, then 1,000 one at a time as at low load.
 */
async function settleThroughput(db: Db, n: number): Promise<{ batched: number; single: number; singleMs: number }> {
  const keys = await rows<{ client_id: string; id: string; model: string }>(
    db,
    sql`select k.client_id, k.id, coalesce((select model from client_model_usage u where u.client_id = k.client_id limit 1), 'echo') as model
        from api_keys k tablesample system (10) limit 5000`,
  );
  if (keys.length === 0) throw new Error("the bench database has no API keys; reseed it");
  let seq = 0;
  const item = (): SettleItem => {
    const k = keys[seq++ % keys.length]!;
    return {
      admission: { kind: "unlimited" },
      record: {
        clientId: k.client_id, clientName: "bench", keyId: k.id, model: k.model, endpoint: "builtin:echo", status: 200,
        inputTokens: 100, outputTokens: 50, coins: "0.000123", durationMs: 20, ttftMs: 5, streamed: false,
        usageEstimated: false, errorCode: null, settlementId: randomUUID(), at: new Date(),
      },
    };
  };
  const t0 = performance.now();
  for (let done = 0; done < n; done += MAX_BATCH) {
    await settleMany(db, Array.from({ length: Math.min(MAX_BATCH, n - done) }, item));
  }
  const batched = Math.round(n / ((performance.now() - t0) / 1000));
  const singles = 1_000;
  const t1 = performance.now();
  for (let i = 0; i < singles; i++) await settleMany(db, [item()]);
  const singleMs = (performance.now() - t1) / singles;
  return { batched, single: Math.round(1000 / singleMs), singleMs };
}

async function main() {
  const opt = parseOptions(USAGE, { clients: 100_000, requests: 10_000_000, days: 365, settle: 20_000 });
  const run = new BenchRun(opt);
  const name = run.name;

  try {
    const db = await run.open(4);
    const [version] = await rows<{ v: string }>(db, sql`select current_setting('server_version') as v`);

    const [have] = await rows<{ n: number }>(db, sql`select count(*)::int as n from clients`);
    let seedRate = "(not seeded in this run)";
    if (Number(have?.n ?? 0) === 0) {
      const models = seedModels();
      console.log(`Seeding ${name}: ${fmt(opt.clients)} clients, ${fmt(opt.requests)} log rows, models ${models.map((m) => m.name).join(", ")}`);
      const r = await seedDatabase(db, { clients: opt.clients, requests: opt.requests, days: opt.days, keysPerClient: 2, models }, (l) => {
        console.log(`  ${l}`);
        seedRate = /^request_log .* ([\d,]+) rows\/s$/.exec(l)?.[1] ?? seedRate;
      });
      console.log(`Seeded in ${(r.ms / 1000).toFixed(1)} s`);
    } else {
      console.log(`Reusing ${name} (already seeded; --clients/--requests ignored)`);
    }
    // Autovacuum is off on this server (a real one runs it): vacuum the clients table, as it would, so its
    // visibility map is set and the page's index-only scans (search, deep OFFSET pages) read no heap;
    // BENCH_NO_VACUUM=1 skips it (then every index entry costs a heap fetch). ANALYZE stands in for autoanalyze.
    const [av] = await rows<{ on: string }>(db, sql`select current_setting('autovacuum') as on`);
    const vacuum = av?.on === "off" && process.env.BENCH_NO_VACUUM !== "1";
    if (vacuum) await db.execute(sql`vacuum (analyze) clients, client_managers`);
    await db.execute(sql`analyze`);
    const [vm] = await rows<{ visible: number; pages: number }>(
      db,
      sql`select relallvisible as visible, relpages as pages from pg_class where oid = 'clients'::regclass`,
    );
    console.log(
      `autovacuum ${av?.on}; ${vacuum ? "vacuumed clients in its stead" : "clients not vacuumed"}: ` +
        `${fmt(Number(vm?.visible ?? 0))} of ${fmt(Number(vm?.pages ?? 0))} pages all-visible`,
    );
    const [size] = await rows<{ clients: number; log: number }>(
      db,
      sql`select (select count(*)::int from clients) as clients, (select greatest(sum(greatest(c.reltuples, 0)), max(p.reltuples))::bigint from pg_class p left join pg_inherits i on i.inhparent = p.oid left join pg_class c on c.oid = i.inhrelid where p.oid = 'request_log'::regclass) as log`,
    );

    const [a] = await rows<Viewer["user"]>(db, sql`select id, email, name from users where email = 'admin@example.com'`);
    const [m] = await rows<Viewer["user"] & { n: number }>(
      db,
      sql`select u.id, u.email, u.name, count(*)::int as n from client_managers cm join users u on u.id = cm.user_id
          group by u.id order by abs(count(*) - 20), u.email limit 1`,
    );
    if (!a || !m) throw new Error("the bench database has no admin@example.com or no manager; reseed it");
    const viewers = { admin: { user: a, isAdmin: true }, manager: { user: { id: m.id, email: m.email, name: m.name }, isAdmin: false } };
    const variants: Variant[] = [
      { label: "first page, sorted by name", query: {}, as: "admin" },
      { label: "sorted by coins, desc", query: { sort: "coins", order: "desc" }, as: "admin" },
      { label: "search q=bot", query: { q: "bot" }, as: "admin" },
      { label: `manager of ${m.n} clients`, query: {}, as: "manager" },
      { label: "page 1,000 by requests (extra)", query: { sort: "requests", page: "1000" }, as: "admin" },
    ];

    console.log(`\nPostgreSQL ${version?.v} · ${fmt(Number(size?.clients))} clients · ~${fmt(Number(size?.log))} log rows · ${opt.runs} runs per variant`);
    const baseData = await measure(opt.runs, () => db.execute(sql`select 1`));
    const data: Stats[] = [];
    const firstNames: string[] = [];
    for (const v of variants) {
      const params = parseClientListParams(v.query);
      const list = await listClients(db, viewers[v.as], params);
      firstNames.push(list.rows[0]?.name ?? "");
      data.push(await measure(opt.runs, () => listClients(db, viewers[v.as], params)));
    }

    let baseHttp: Stats | null = null;
    const http: (Stats | null)[] = [];
    let note = "";
    if (!opt.http) note = "HTTP part skipped (--no-http).";
    else if (!hasBuild()) note = "HTTP part skipped: no production build (.next/BUILD_ID). Run `npm run build` first.";
    else {
      try {
        const port = await freePort();
        const origin = await run.startNext(port, benchConfig(run.tmpDir(), port, ECHO_CONFIG).file);
        const sessions = { admin: new Session(origin), manager: new Session(origin) };
        await sessions.admin.signIn(a.email);
        await sessions.manager.signIn(m.email);
        const gets = variants.map((v, i) => {
          const target = `/clients${Object.keys(v.query).length ? `?${new URLSearchParams(v.query)}` : ""}`;
          return async () => {
            const res = await sessions[v.as].fetch(target);
            const body = await res.text();
            if (res.status !== 200) throw new Error(`GET ${target} as ${v.as}: HTTP ${res.status} ${res.headers.get("location") ?? ""}`);
            if (firstNames[i] && !body.includes(firstNames[i]!)) throw new Error(`GET ${target}: the page does not show "${firstNames[i]}"`);
          };
        });
        // Warm the server (code paths, React, connection pool) on every variant before timing any.
        for (let round = 0; round < 5; round++) for (const get of gets) await get();
        baseHttp = await measure(opt.runs, async () => (await fetch(`${origin}/healthz`)).arrayBuffer());
        for (const get of gets) http.push(await measure(opt.runs, get));
      } catch (err) {
        note = `HTTP part failed: ${(err as Error).message}`;
      }
    }

    const layout = { width: 34, targetMs: TARGET_MS, noHttp: "      (skipped)                       " };
    printTable(layout, variants.map((v) => v.label), [baseData, baseHttp], data, http, note);
    // Before the settlements below, which update clients rows (and clear their pages' visibility bits):
    // the plans in the state that was measured.
    if (opt.explain) await explainVariants(run.url, variants, viewers);
    const [spread] = await rows<{ months: number; parts: number }>(
      db,
      sql`select count(distinct date_trunc('month', created_at at time zone 'UTC'))::int as months,
                 (select count(*)::int from pg_inherits where inhparent = 'request_log'::regclass) as parts from request_log`,
    );
    console.log(`\nrequest_log: rows in ${spread?.months} months, ${spread?.parts} partitions (incl. DEFAULT, when partitioned; 0 = a plain table)`);
    console.log(`Insert throughput: seed bulk insert ${seedRate} rows/s`);
    const settled = await settleThroughput(db, opt.settle);
    console.log(
      `  settlement statement (settleMany): ${fmt(opt.settle)} requests in batches of ${MAX_BATCH}: ${fmt(settled.batched)} rows/s · ` +
        `one at a time: ${fmt(settled.single)} rows/s (${settled.singleMs.toFixed(2)} ms per statement)`,
    );
    const { mismatches } = await verifySeed(db);
    console.log(`  counters vs request_log after the settlements: ${mismatches.length ? `MISMATCH in ${mismatches.join(", ")}` : "all agree"}`);
  } finally {
    await run.cleanup();
  }
}

runMain(main);
