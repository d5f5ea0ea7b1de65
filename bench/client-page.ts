/**
 * `npm run bench:client-page -- [--keys N] [--requests R] [--clients C] [--runs 20] [--keep | --reuse NAME] [--explain] [--no-http] [--no-export]`
 *
 * Server time of the client detail page `/clients/[id]` (issue 12: ≤ 100 ms for a client with 1,000 API keys
 * and 5 million request-log rows) on a fresh PostgreSQL database: a modest background from `seedDatabase`,
 * then one big client whose counters, key counters and usage rollups are set from its log (exact agreement).
 * Times (a) the page's data layer (the queries its sections run, concurrently as React renders them) and
 * (b) `GET /clients/<id>` against the Lumen server (when a build exists), each against a baseline of the same run.
 * Recent requests (issue 11) is timed alone in its views — newest page, errors only, one key (the busiest and a
 * seldom used one), both filters, a page 30 days deep — and the activity trail with 10,000 events. Then, once
 * each, the two CSV exports over the whole 60 days (5 M log rows): time, size and the process's peak memory.
 * The shared helpers are in bench/harness.ts. A benchmark: it fails only when it cannot run.
 */
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { rows, type Db } from "@/lib/db/client";
import { ensureMonths } from "@/lib/db/partitions";
import { seedModelsFromConfig } from "../scripts/seed/generate";
import { seedDatabase } from "../scripts/seed/load";
import { verifySeed } from "../scripts/seed/verify";
import { parseConfigText, clientEntry, type LumenConfig } from "@/lib/config";
import { findVisibleClient } from "@/lib/clients/queries";
import { clientUsageSummary } from "@/lib/clients/usage";
import { clientDailyUsageSeries } from "@/lib/clients/usage-daily";
import { listManagers } from "@/lib/clients/managers";
import { countApiKeys, KEY_LIST_LIMIT, listApiKeys } from "@/lib/keys/queries";
import { clientModelAccess } from "@/lib/access/client-models";
import { listActivity, parseActivityParams } from "@/lib/audit/queries";
import { keyFilterOptions, listRecentRequests, parseCursor, type RecentRequestParams } from "@/lib/clients/recent-requests";
import { exportCsv } from "@/lib/exports/csv";
import { readPool } from "@/lib/coins/store";
import { canViewClient, type Viewer } from "@/lib/auth/permissions";
import { benchConfig, BenchRun, fmt, hasBuild, measure, parseOptions, printTable, queryLog, runMain, secs, Session, type Stats } from "./harness";
import { freePort } from "../tests/helpers/net";

const TARGET_MS = 100;
const BIG = "bench-big-client";
const USAGE = `Usage: npm run bench:client-page -- [options]
  --keys N         API keys of the big client (default 1,000)
  --requests R     request-log rows of the big client (default 5,000,000)
  --clients C      background clients from seedDatabase (default 1,000, with 20 log rows each)
  --runs N         timed requests per variant (default 20, after 3 warm-ups)
  --keep           keep the database afterwards (prints its name for --reuse)
  --reuse NAME     use (and keep) an existing bench database; seeds only what is missing
  --explain        print EXPLAIN (ANALYZE, BUFFERS) of every query of the page
  --no-http        skip the HTTP part
  --no-export      skip the CSV export timing
Base server: env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).`;

interface Variant {
  label: string;
  data: () => Promise<unknown>;
  /** Path and a string the body must contain; absent for data-only rows. */
  http?: { path: string; expect: string };
}

// ---------------------------------------------------------------------------------------------
// The big client: keys, log (generate_series, 1M rows per statement), counters and rollups from the log
// ---------------------------------------------------------------------------------------------

async function seedBigClient(url: string, config: LumenConfig, keys: number, requests: number): Promise<number> {
  const t = performance.now();
  let t0 = t;
  const step = (what: string) => {
    console.log(`  ${what} · ${secs(performance.now() - t0)}`);
    t0 = performance.now();
  };
  // One connection: the session settings and the temp table below live on it.
  const pg = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await pg`set synchronous_commit = off`;
    await pg`set jit = off`;
    await pg`set work_mem = '64MB'`;
    await pg`set maintenance_work_mem = '256MB'`;

    const models = seedModelsFromConfig(config.models).map((m, i) => ({
      idx: i + 1,
      name: m.name,
      in_price: String(m.inputCostPerMillion),
      out_price: String(m.outputCostPerMillion),
      endpoint: m.endpoints?.[0] ?? null,
    }));
    const [admin] = await pg<{ id: string }[]>`select id from users where email = 'admin@example.com'`;
    const [client] = await pg<{ id: string }[]>`
      insert into clients (name, created_at, created_by) values (${BIG}, now() - interval '90 days', ${admin?.id ?? null})
      returning id`;
    const id = client!.id;
    await pg`
      with m as (
        insert into client_managers (client_id, user_id, added_at)
        select ${id}, id, now() - interval '80 days' from users where email <> 'admin@example.com' order by email limit 3
        returning 1)
      update clients set manager_count = (select count(*) from m) where id = ${id}`;
    // Keys created 90…62 days ago (before the log window); names cycle so that ?keys_q=prod matches an eighth.
    await pg`
      insert into api_keys (client_id, name, key_hash, hint, created_at, created_by)
      select ${id}, (array['production','staging','ci-runner','development','batch','notebook','analytics','backup'])[1 + (j - 1) % 8] || '-' || j,
             md5(random()::text || j) || md5(j || random()::text),
             'sk_' || substr(md5(random()::text), 1, 4) || '…' || substr(md5(random()::text), 1, 4),
             now() - interval '90 days' + j * (interval '28 days' / ${keys}), ${admin?.id ?? null}
      from generate_series(1, ${keys}) j`;
    step(`client ${BIG}, 3 managers, ${fmt(keys)} API keys`);

    const indexes = await pg<{ name: string; def: string }[]>`
      select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
      from pg_index i where i.indrelid = 'request_log'::regclass and not i.indisprimary and not i.indisunique`;
    for (const ix of indexes) await pg.unsafe(`drop index ${ix.name}`);
    const batch = 1_000_000;
    // Superuser only: skips the per-row foreign-key triggers of the log rows (they reference the client and its
    // keys). Only around the log: the triggers on clients that keep client_totals must see the counters' writes.
    await pg`set session_replication_role = replica`.catch(() => console.log("  (not a superuser: foreign keys checked per row)"));
    const t1 = performance.now();
    for (let from = 0; from < requests; from += batch) {
      const n = Math.min(batch, requests - from);
      // Keys skewed (a few carry most traffic), models uniform, times uniform over 60 days, 2% upstream errors.
      await pg`
        with k as materialized (select array_agg(id order by created_at) as ids from api_keys where client_id = ${id}),
             m as materialized (select * from json_to_recordset(${JSON.stringify(models)}::text::json)
                                  as x(idx int, name text, in_price numeric, out_price numeric, endpoint text))
        insert into request_log (created_at, client_id, key_id, model, endpoint, status, input_tokens, output_tokens,
                                 coins, duration_ms, streamed)
        select r.created_at, ${id}, r.key_id, m.name, m.endpoint, case when r.i > 0 then 200 else 502 end, r.i, r.o,
               round((r.i::numeric * m.in_price + r.o::numeric * m.out_price) / 1000000, 6), 100 + r.o * 8, r.streamed
        from (
          select now() - interval '60 days' * random() as created_at,
                 k.ids[1 + floor(cardinality(k.ids) * power(random(), 2))::int] as key_id,
                 1 + floor(random() * ${models.length})::int as midx,
                 x.i, case when x.i > 0 then 1 + floor(random() * 800)::int else 0 end as o, random() < 0.6 as streamed
          from generate_series(1, ${n}) g
          cross join k
          cross join lateral (select case when random() < 0.98 then 1 + floor(random() * 2000)::int else 0 end as i where g > 0) x
          offset 0
        ) r join m on m.idx = r.midx`;
      const ms = performance.now() - t1;
      console.log(`  request_log ${fmt(from + n)} / ${fmt(requests)} · ${secs(ms)} · ${fmt(Math.round((from + n) / (ms / 1000)))} rows/s`);
    }
    await pg`set session_replication_role = origin`.catch(() => {});
    t0 = performance.now();
    for (const ix of indexes) await pg.unsafe(ix.def.replace(/ ON ONLY /, " ON ")); // partitioned: build on every partition
    step(`request_log indexes rebuilt (${indexes.map((i) => i.name).join(", ")})`);

    // One read of the client's log; every counter and rollup is derived from this aggregate.
    await pg`
      create temp table _agg as
      select key_id, (created_at at time zone 'UTC')::date as day, model, count(*) as n, sum(input_tokens) as i,
             sum(output_tokens) as o, sum(coins) as c, max(created_at) as last
      from request_log where client_id = ${id} group by 1, 2, 3`;
    await pg`
      update clients set requests = a.n, input_tokens = a.i, output_tokens = a.o, coins_spent = a.c, last_used_at = a.last
      from (select sum(n) as n, sum(i) as i, sum(o) as o, sum(c) as c, max(last) as last from _agg) a where id = ${id}`;
    await pg`
      update api_keys k set requests = a.n, input_tokens = a.i, output_tokens = a.o, coins_spent = a.c, last_used_at = a.last
      from (select key_id, sum(n) as n, sum(i) as i, sum(o) as o, sum(c) as c, max(last) as last from _agg group by 1) a
      where k.id = a.key_id`;
    await pg`
      insert into client_model_usage (client_id, model, requests, input_tokens, output_tokens, coins_spent, last_used_at)
      select ${id}, model, sum(n), sum(i), sum(o), sum(c), max(last) from _agg group by model`;
    await pg`
      insert into client_daily_usage (client_id, day, model, requests, input_tokens, output_tokens, coins_spent)
      select ${id}, day, model, sum(n), sum(i), sum(o), sum(c) from _agg group by day, model`;
    await pg`drop table _agg`;
    // About 8% of the keys revoked, each after its last use (the most used key stays active), and the second
    // newest too, so that the first page of keys (newest first), which the "show revoked" variant reads,
    // always has one: with 8 % drawn at random alone, its 25 rows had none in about one run of eight.
    await pg`
      with most_used as (select id from api_keys where client_id = ${id} order by requests desc limit 1),
      second_newest as (select id from api_keys where client_id = ${id} and id <> (select id from most_used)
                        order by created_at desc, id desc offset 1 limit 1)
      update api_keys set revoked_at = least(now(), coalesce(last_used_at, created_at) + interval '3 hours'), revoked_by = ${admin?.id ?? null}
      where client_id = ${id} and id <> (select id from most_used)
        and (random() < 0.08 or id = (select id from second_newest))`;
    step("counters, key counters, client_model_usage, client_daily_usage set from the log");
    await seedActivity(pg, id, admin?.id ?? null);
    step("10,000 activity events");
    for (const table of ["request_log", "api_keys", "clients", "client_managers", "client_model_usage", "client_daily_usage", "coin_pools"]) {
      await pg.unsafe(`analyze ${table}`);
    }
    step("analyze");
  } finally {
    await pg.end({ timeout: 5 });
  }
  return performance.now() - t;
}

/** The big client's activity trail: 10,000 key events over 90 days (the Activity section reads 50). */
async function seedActivity(pg: postgres.Sql, clientId: string, actorId: string | null): Promise<void> {
  await pg`
    insert into audit_events (created_at, actor_id, actor_email, client_id, action, target_type, target_id, target_label, details, ip, user_agent)
    select now() - interval '90 days' + g * (interval '90 days' / 10000), ${actorId}, 'admin@example.com', ${clientId},
           (array['key.created','key.rotated','key.revoked','manager.added'])[1 + g % 4], 'key', null, 'key-' || g,
           jsonb_build_object('hint', 'sk_abcd…wxyz'), '10.0.0.' || (g % 250), 'bench'
    from generate_series(1, 10000) g`;
}

async function main() {
  const timeExports = !process.argv.includes("--no-export");
  if (!timeExports) process.argv.splice(process.argv.indexOf("--no-export"), 1);
  const opt = parseOptions(USAGE, { keys: 1_000, requests: 5_000_000, clients: 1_000 });
  const run = new BenchRun(opt);
  const name = run.name;

  try {
    const port = await freePort();
    const { file: configFile, text } = benchConfig(run.tmpDir(), port);
    const config = parseConfigText(text, configFile).config;
    const db = await run.open(10);
    const [version] = await rows<{ v: string }>(db, sql`select current_setting('server_version') as v`);

    let seedMs = 0;
    const [have] = await rows<{ n: number }>(db, sql`select count(*)::int as n from clients`);
    if (Number(have?.n ?? 0) === 0) {
      const requests = opt.clients * 20;
      console.log(`Seeding ${name}: background of ${fmt(opt.clients)} clients and ${fmt(requests)} log rows (seedDatabase)`);
      const r = await seedDatabase(db, { clients: opt.clients, requests, days: 30, keysPerClient: 2, models: seedModelsFromConfig(config.models) }, (l) => console.log(`  ${l}`));
      seedMs += r.ms;
    }
    let [big] = await rows<{ id: string }>(db, sql`select id from clients where name = ${BIG}`);
    if (!big) {
      console.log(`Seeding ${BIG}: ${fmt(opt.keys)} API keys, ${fmt(opt.requests)} log rows over 60 days, models ${config.models.map((m) => m.name).join(", ")}`);
      await ensureMonths(db, new Date(Date.now() - 61 * 86_400_000), new Date()); // the log's 60 days, in their months
      seedMs += await seedBigClient(run.url, config, opt.keys, opt.requests);
      const t0 = performance.now();
      const { mismatches: bad } = await verifySeed(db);
      console.log(`  counters vs request_log (whole database): ${bad.length ? `MISMATCH in ${bad.join(", ")}` : "all agree"} · ${secs(performance.now() - t0)}`);
      [big] = await rows<{ id: string }>(db, sql`select id from clients where name = ${BIG}`);
      console.log(`Seeded in ${secs(seedMs)}`);
    } else console.log(`Reusing ${name} (${BIG} exists; --keys/--requests/--clients ignored)`);
    const id = big!.id;
    const [trail] = await rows<{ n: number }>(db, sql`select count(*)::int as n from audit_events where client_id = ${id}`);
    if (Number(trail?.n ?? 0) === 0) {
      const pg = postgres(run.url, { max: 1, onnotice: () => {} });
      const [admin] = await pg<{ id: string }[]>`select id from users where email = 'admin@example.com'`;
      await seedActivity(pg, id, admin?.id ?? null);
      await pg.end({ timeout: 5 });
      console.log("  seeded 10,000 activity events");
    }

    const [size] = await rows<{ clients: number; log: number; keys: number; revoked: number; mine: number }>(
      db,
      sql`select (select count(*)::int from clients) as clients, (select greatest(sum(greatest(c.reltuples, 0)), max(p.reltuples))::bigint from pg_class p left join pg_inherits i on i.inhparent = p.oid left join pg_class c on c.oid = i.inhrelid where p.oid = 'request_log'::regclass) as log,
                 (select count(*)::int from api_keys where client_id = ${id}) as keys,
                 (select count(*)::int from api_keys where client_id = ${id} and revoked_at is not null) as revoked,
                 (select requests from clients where id = ${id}) as mine`,
    );
    const [a] = await rows<Viewer["user"]>(db, sql`select id, email, name from users where email = 'admin@example.com'`);
    if (!a) throw new Error("the bench database has no admin@example.com; reseed it");
    const viewer: Viewer = { user: a, isAdmin: true };
    const pool = clientEntry(config, BIG).pool;

    // Recent requests: the busiest key, a seldom used one (few rows, fewer errors), a cursor 30 days deep.
    const [busiest] = await rows<{ id: string }>(db, sql`select id from api_keys where client_id = ${id} order by requests desc limit 1`);
    const [rare] = await rows<{ id: string; requests: number }>(
      db,
      sql`select id, requests from api_keys where client_id = ${id} and requests > 0 order by requests, id limit 1`,
    );
    const [deep] = await rows<{ c: string }>(
      db,
      sql`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '~' || id as c from request_log
          where client_id = ${id} and created_at < now() - interval '30 days' order by created_at desc, id desc limit 1`,
    );
    const recent = (p: Partial<RecentRequestParams>) => () => listRecentRequests(db, id, { errorsOnly: false, keyId: null, ...p });
    const deepCursor = parseCursor(deep?.c);

    /** What the page's server components run for one request (sections render concurrently). */
    const page = (ex: Db, keys: { q?: string; showInactive?: boolean }, requests: Partial<RecentRequestParams> = {}) => async () => {
      const client = await findVisibleClient(ex, viewer, id);
      if (!client) throw new Error(`${BIG} is not visible to the admin`);
      await Promise.all([
        listRecentRequests(ex, id, { errorsOnly: false, keyId: null, ...requests }),
        keyFilterOptions(ex, id),
        listActivity(ex, id, parseActivityParams({})),
        clientUsageSummary(ex, id),
        pool ? readPool(ex, id, pool) : null,
        clientDailyUsageSeries(ex, id),
        listApiKeys(ex, id, { ...keys, limit: KEY_LIST_LIMIT }),
        countApiKeys(ex, id),
        listManagers(ex, id),
        clientModelAccess(ex, config, { id, name: BIG }),
        canViewClient(ex, viewer, id),
      ]);
    };
    const pagePath = `/clients/${id}`;
    const variants: Variant[] = [
      { label: "page, default view", data: page(db, {}), http: { path: pagePath, expect: BIG } },
      { label: "page, show revoked (?revoked=1)", data: page(db, { showInactive: true }), http: { path: `${pagePath}?revoked=1`, expect: 'data-revoked="true"' } },
      { label: "page, key search (?keys_q=prod)", data: page(db, { q: "prod" }), http: { path: `${pagePath}?keys_q=prod`, expect: "production-" } },
      // The page without any key row: its fixed cost, so the per-row cost of the rows above can be read off.
      { label: "page, key search, no match (extra)", data: page(db, { q: "no-such-key" }), http: { path: `${pagePath}?keys_q=no-such-key`, expect: "keys match" } },
      {
        label: "page, requests: errors of a rare key",
        data: page(db, {}, { errorsOnly: true, keyId: rare?.id ?? null }),
        http: { path: `${pagePath}?requests_errors=1&requests_key=${rare?.id}`, expect: "recent-requests-section" },
      },
      { label: "  findVisibleClient", data: () => findVisibleClient(db, viewer, id) },
      { label: "  clientUsageSummary", data: () => clientUsageSummary(db, id) },
      { label: `  readPool${pool ? "" : " (no pool configured)"}`, data: async () => (pool ? readPool(db, id, pool) : null) },
      { label: "  clientDailyUsageSeries (30 days)", data: () => clientDailyUsageSeries(db, id) },
      { label: `  listApiKeys (limit ${KEY_LIST_LIMIT})`, data: () => listApiKeys(db, id) },
      { label: "  listApiKeys, show revoked", data: () => listApiKeys(db, id, { showInactive: true }) },
      { label: "  listApiKeys, q=prod", data: () => listApiKeys(db, id, { q: "prod" }) },
      { label: "  countApiKeys", data: () => countApiKeys(db, id) },
      { label: "  listManagers", data: () => listManagers(db, id) },
      { label: "  clientModelAccess", data: () => clientModelAccess(db, config, { id, name: BIG }) },
      { label: "  recent requests: newest 50", data: recent({}) },
      { label: "  recent requests: errors only", data: recent({ errorsOnly: true }) },
      { label: "  recent requests: busiest key", data: recent({ keyId: busiest?.id ?? null }) },
      { label: `  recent requests: rare key (${fmt(Number(rare?.requests ?? 0))} rows)`, data: recent({ keyId: rare?.id ?? null }) },
      { label: "  recent requests: rare key, errors", data: recent({ keyId: rare?.id ?? null, errorsOnly: true }) },
      { label: "  recent requests: 30 days deep", data: recent({ before: deepCursor }) },
      { label: "  recent requests: 30 days deep, errors", data: recent({ before: deepCursor, errorsOnly: true }) },
      { label: "  recent requests: key filter options", data: () => keyFilterOptions(db, id) },
      { label: "  activity: newest 50 of 10,000", data: () => listActivity(db, id, parseActivityParams({})) },
      { label: "  activity: keys only, page 20", data: () => listActivity(db, id, parseActivityParams({ activity_kind: "keys", activity_page: "20" })) },
    ];

    console.log(
      `\nPostgreSQL ${version?.v} · ${fmt(Number(size?.clients))} clients · ~${fmt(Number(size?.log))} log rows · ` +
        `${BIG}: ${fmt(Number(size?.keys))} keys (${fmt(Number(size?.revoked))} revoked), ${fmt(Number(size?.mine))} requests · ${opt.runs} runs per variant`,
    );
    const baseData = await measure(opt.runs, () => db.execute(sql`select 1`));
    const data: Stats[] = [];
    for (const v of variants) data.push(await measure(opt.runs, v.data));

    let baseHttp: Stats | null = null;
    const http: (Stats | null)[] = [];
    let note = "";
    if (!opt.http) note = "HTTP part skipped (--no-http).";
    else if (!hasBuild()) note = "HTTP part skipped: no production build (.next/BUILD_ID); the lead builds.";
    else {
      try {
        const origin = await run.startNext(port, configFile);
        const session = new Session(origin);
        await session.signIn(a.email);
        const sizes: string[] = [];
        const gets = variants.map((v) => {
          const h = v.http;
          if (!h) return null;
          return async () => {
            const res = await session.fetch(h.path);
            const body = await res.text();
            if (res.status !== 200) throw new Error(`GET ${h.path}: HTTP ${res.status} ${res.headers.get("location") ?? ""}`);
            if (!body.includes(h.expect)) throw new Error(`GET ${h.path}: the page does not contain ${JSON.stringify(h.expect)}`);
            return body.length;
          };
        });
        for (let round = 0; round < 5; round++) for (const get of gets) await get?.();
        for (const [i, get] of gets.entries()) if (get) sizes.push(`${variants[i]!.http!.path.replace(pagePath, "") || "default"} ${Math.round((await get()) / 1024)} KB`);
        baseHttp = await measure(opt.runs, async () => (await fetch(`${origin}/healthz`)).arrayBuffer());
        for (const get of gets) http.push(get ? await measure(opt.runs, get) : null);
        note = `HTML body sizes: ${sizes.join(" · ")}`;
      } catch (err) {
        note = `HTTP part failed: ${(err as Error).message}`;
      }
    }

    const layout = { width: 40, targetMs: TARGET_MS, noHttp: `      ${"-".padEnd(32)}` };
    printTable(layout, variants.map((v) => v.label), [baseData, baseHttp], data, http, note);

    if (timeExports) await timeCsvExports(db, viewer, id);

    if (opt.explain) {
      const log = await queryLog(run.url);
      for (const keys of [{}, { showInactive: true }, { q: "prod" }]) await page(log.db, keys)();
      for (const r of [{ errorsOnly: true }, { keyId: rare?.id ?? null, errorsOnly: true }, { before: deepCursor }]) await page(log.db, {}, r)();
      const seen = new Set<string>();
      for (const q of log.captured) {
        const key = q.query + JSON.stringify(q.params);
        if (seen.has(key)) continue;
        seen.add(key);
        await log.explain(q);
      }
      await log.end();
    }
  } finally {
    await run.cleanup();
  }
}

/**
 * The two CSV exports over the big client's whole log (60 days), read to the end as a browser would: time,
 * bytes, lines, and the growth of this process's peak RSS while streaming (sampled every 20 ms) — the claim
 * under test is that the file never sits in memory.
 */
async function timeCsvExports(db: Db, viewer: Viewer, id: string) {
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 61 * 86_400_000).toISOString().slice(0, 10);
  console.log(`\nCSV exports of ${BIG}, ${from} … ${to} (one run each, read to the end):`);
  for (const kind of ["usage", "requests"] as const) {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    const res = await exportCsv(db, viewer, id, kind, { from, to });
    const firstByte = { ms: 0 };
    let bytes = 0;
    let lines = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (bytes === 0) firstByte.ms = performance.now() - t0;
      bytes += value.byteLength;
      for (const b of value) if (b === 10) lines++;
    }
    clearInterval(sampler);
    const ms = performance.now() - t0;
    console.log(
      `  ${kind.padEnd(8)} HTTP ${res.status} · ${fmt(lines - 1)} rows · ${(bytes / 1e6).toFixed(1)} MB · first bytes ${firstByte.ms.toFixed(0)} ms · ` +
        `total ${secs(ms)} (${fmt(Math.round((lines - 1) / (ms / 1000)))} rows/s) · peak RSS +${((peak - before) / 1e6).toFixed(0)} MB`,
    );
  }
}

runMain(main);
