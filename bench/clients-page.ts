/**
 * `npm run bench:clients-page -- [--clients N] [--requests R] [--runs 20] [--keep | --reuse NAME] [--explain]`
 *
 * Server time of the Clients page (SPEC §3, §10) with 100,000 clients and 10 million request-log rows,
 * measured on a fresh PostgreSQL database: (a) the data layer (`listClients`) and (b) the real page over
 * HTTP against the Lumen server (when a build exists), each against a trivial baseline measured in the same run.
 * A benchmark, not a test: it prints numbers and fails only when it cannot run.
 */
import { sql } from "drizzle-orm";
import { rows } from "@/lib/db/client";
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
  --runs N         timed requests per variant (default 20, after 3 warm-ups)
  --keep           keep the database afterwards (prints its name for --reuse)
  --reuse NAME     use (and keep) an existing bench database; seeds it only when it is empty
  --explain        print EXPLAIN (ANALYZE, BUFFERS) of every data-layer query
  --no-http        skip the HTTP part
Base server: env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).`;

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

async function main() {
  const opt = parseOptions(USAGE, { clients: 100_000, requests: 10_000_000 });
  const run = new BenchRun(opt);
  const name = run.name;

  try {
    const db = await run.open(4);
    const [version] = await rows<{ v: string }>(db, sql`select current_setting('server_version') as v`);

    const [have] = await rows<{ n: number }>(db, sql`select count(*)::int as n from clients`);
    if (Number(have?.n ?? 0) === 0) {
      const models = seedModels();
      console.log(`Seeding ${name}: ${fmt(opt.clients)} clients, ${fmt(opt.requests)} log rows, models ${models.map((m) => m.name).join(", ")}`);
      const r = await seedDatabase(db, { clients: opt.clients, requests: opt.requests, days: 30, keysPerClient: 2, models }, (l) => console.log(`  ${l}`));
      console.log(`Seeded in ${(r.ms / 1000).toFixed(1)} s`);
    } else {
      console.log(`Reusing ${name} (already seeded; --clients/--requests ignored)`);
    }
    await db.execute(sql`analyze`);
    const [size] = await rows<{ clients: number; log: number }>(
      db,
      sql`select (select count(*)::int from clients) as clients, (select reltuples::bigint from pg_class where relname = 'request_log') as log`,
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
    if (opt.explain) await explainVariants(run.url, variants, viewers);
  } finally {
    await run.cleanup();
  }
}

runMain(main);
