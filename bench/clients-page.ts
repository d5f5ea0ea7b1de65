/**
 * `npm run bench:clients-page -- [--clients N] [--requests R] [--runs 20] [--keep | --reuse NAME] [--explain]`
 *
 * Server time of the Clients page (SPEC §3, §10) with 100,000 clients and 10 million request-log rows,
 * measured on a fresh PostgreSQL database: (a) the data layer (`listClients`) and (b) the real page over
 * HTTP against `next start` (when a build exists), each against a trivial baseline measured in the same run.
 * A benchmark, not a test: it prints numbers and fails only when it cannot run.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { openDatabase, rows, type Db, type DbHandle } from "@/lib/db/client";
import { DEFAULT_SEED_MODELS, seedDatabase, seedModelsFromConfig, type SeedModel } from "@/lib/db/seed";
import { listClients } from "@/lib/clients/queries";
import { parseClientListParams } from "@/lib/clients/list-params";
import type { Viewer } from "@/lib/auth/permissions";
import { configPath, getConfig } from "@/lib/config";

const TARGET_MS = 150;
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
interface Stats {
  median: number;
  p95: number;
}

const num = (raw: string | undefined, fallback: number, flag: string) => {
  if (raw === undefined) return fallback;
  const n = Number(raw.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${flag} expects a whole number ≥ 1, got "${raw}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
};

function options() {
  try {
    const { values: v } = parseArgs({
      strict: true,
      options: {
        clients: { type: "string" },
        requests: { type: "string" },
        runs: { type: "string" },
        keep: { type: "boolean" },
        reuse: { type: "string" },
        explain: { type: "boolean" },
        "no-http": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      console.log(USAGE);
      process.exit(0);
    }
    if (v.reuse !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(v.reuse)) throw new Error(`--reuse expects a database name, got "${v.reuse}"`);
    return {
      clients: num(v.clients, 100_000, "clients"),
      requests: num(v.requests, 10_000_000, "requests"),
      runs: num(v.runs, 20, "runs"),
      reuse: v.reuse,
      keep: Boolean(v.keep || v.reuse),
      explain: Boolean(v.explain),
      http: !v["no-http"],
    };
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (i: number) => s[Math.min(s.length - 1, Math.max(0, i))] ?? NaN;
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2, p95: at(Math.ceil(0.95 * s.length) - 1) };
}

async function measure(runs: number, fn: () => Promise<unknown>): Promise<Stats> {
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

function seedModels(): SeedModel[] {
  try {
    return seedModelsFromConfig(getConfig().models);
  } catch (err) {
    console.warn(`config not loaded (${(err as Error).message.split("\n")[0]}); seeding the built-in echo model`);
    return DEFAULT_SEED_MODELS;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: `next start` on a free port, development sign-in, cookie jar
// ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** ./config.yaml (or LUMEN_CONFIG) with the development sign-in on and admin@example.com as the admin. */
function benchConfig(dir: string, port: number): string {
  let doc: Record<string, unknown> = {};
  try {
    doc = (parseYaml(fs.readFileSync(configPath(), "utf8")) as Record<string, unknown> | null) ?? {};
  } catch {
    doc = { models: [{ name: "echo", input_cost_per_million: 0.5, output_cost_per_million: 1, endpoints: [{ url: "builtin:echo" }] }] };
  }
  const obj = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, unknown>) : {});
  doc.app = { ...obj(doc.app), base_url: `http://127.0.0.1:${port}` };
  doc.auth = { ...obj(doc.auth), dev_login: true };
  doc.admins = ["admin@example.com"];
  const file = path.join(dir, "config.yaml");
  fs.writeFileSync(file, stringifyYaml(doc));
  return file;
}

class Session {
  private cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  private keep(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0] ?? "";
      const eq = pair.indexOf("=");
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(this.base + pathname, { ...init, redirect: "manual", headers: { ...(init.headers as object), cookie } });
    this.keep(res);
    return res;
  }

  /** Auth.js credentials flow of the development sign-in. */
  async signIn(email: string): Promise<void> {
    const csrf = (await (await this.fetch("/api/auth/csrf")).json()) as { csrfToken?: string };
    if (!csrf.csrfToken) throw new Error("no csrfToken from /api/auth/csrf");
    const res = await this.fetch("/api/auth/callback/dev", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfToken: csrf.csrfToken, email, callbackUrl: `${this.base}/clients` }).toString(),
    });
    await res.arrayBuffer();
    if (![...this.cookies.keys()].some((k) => k.endsWith("session-token"))) {
      throw new Error(`development sign-in as ${email} failed (HTTP ${res.status}, location ${res.headers.get("location")})`);
    }
  }
}

async function startServer(env: NodeJS.ProcessEnv, port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const bin = path.join(process.cwd(), "node_modules", "next", "dist", "bin", "next");
  const child = spawn(process.execPath, [bin, "start", "-p", String(port), "-H", "127.0.0.1"], {
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited with code ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.arrayBuffer();
      if (res.ok) return { child, output: () => out };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`next start did not answer /healthz within 120 s:\n${out}`);
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    child.kill("SIGTERM");
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------

async function explainVariants(url: string, variants: Variant[], viewers: Record<Variant["as"], Viewer>) {
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const schema = await import("@/lib/db/schema");
  const client = postgres(url, { max: 1, onnotice: () => {} });
  const captured: { query: string; params: unknown[] }[] = [];
  const db = drizzle(client, { schema, logger: { logQuery: (query, params) => captured.push({ query, params }) } }) as unknown as Db;
  for (const v of variants) {
    captured.length = 0;
    await listClients(db, viewers[v.as], parseClientListParams(v.query));
    for (const q of [...captured]) {
      const plan = await client.unsafe(`explain (analyze, buffers) ${q.query}`, q.params as never[]);
      console.log(`\n--- ${v.label}: ${q.query}\n    params ${JSON.stringify(q.params)}`);
      for (const line of plan) console.log(`    ${String(Object.values(line)[0])}`);
    }
  }
  await client.end();
}

function table(variants: Variant[], baseline: [Stats, Stats | null], data: Stats[], http: (Stats | null)[], httpNote: string) {
  const f = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1)).padStart(8);
  const ratio = (s: Stats, b: Stats) => `${(s.median / b.median).toFixed(1)}×`.padStart(9);
  const verdict = (s: Stats | null) => (s ? (s.median < TARGET_MS ? "yes" : "NO") : "-");
  console.log(
    `\n${"variant".padEnd(34)}│ data layer: median     p95  vs select 1 │ HTTP GET: median     p95  vs /healthz │ < ${TARGET_MS} ms (data / HTTP)`,
  );
  const line = (label: string, d: Stats, h: Stats | null, extra: string) =>
    console.log(
      `${label.padEnd(34)}│ ${" ".repeat(10)}${f(d.median)}${f(d.p95)}${ratio(d, baseline[0])}   │ ${h && baseline[1] ? `${" ".repeat(8)}${f(h.median)}${f(h.p95)}${ratio(h, baseline[1])}  ` : "      (skipped)                       "} │ ${extra}`,
    );
  line(`baseline (select 1 · /healthz)`, baseline[0], baseline[1], "");
  variants.forEach((v, i) => line(v.label, data[i]!, http[i] ?? null, `${verdict(data[i]!)} / ${verdict(http[i] ?? null)}`));
  if (httpNote) console.log(`\n${httpNote}`);
}

async function main() {
  const opt = options();
  const base = process.env.BENCH_DATABASE_URL?.trim() || "postgres://postgres@127.0.0.1:5432/test";
  const name = opt.reuse ?? `lumen_bench_${crypto.randomBytes(5).toString("hex")}`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  let handle: DbHandle | null = null;
  let server: ChildProcess | null = null;
  let tmp: string | null = null;
  const cleanup = async () => {
    if (server) await stopServer(server).catch(() => {});
    server = null;
    await handle?.close().catch(() => {});
    handle = null;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    tmp = null;
    if (!opt.keep) await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
    else console.log(`\nKept database ${name} (run again with --reuse ${name}; drop it with: drop database "${name}")`);
    await admin.end({ timeout: 5 });
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  }
  // Last resort (crash, closed stdout): never leave a `next start` behind.
  process.once("exit", () => {
    if (server?.pid && server.exitCode === null) {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {}
    }
  });

  try {
    const exists = (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
    if (!exists) await admin.unsafe(`create database "${name}"`);
    handle = await openDatabase({ url: url.toString(), max: 4 });
    const db = handle.db;
    const [version] = await rows<{ v: string }>(db, sql`select current_setting('server_version') as v`);

    const [have] = await rows<{ n: number }>(db, sql`select count(*)::int as n from clients`);
    if (Number(have?.n ?? 0) === 0) {
      const models = seedModels();
      console.log(`Seeding ${name}: ${opt.clients.toLocaleString("en-US")} clients, ${opt.requests.toLocaleString("en-US")} log rows, models ${models.map((m) => m.name).join(", ")}`);
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

    console.log(`\nPostgreSQL ${version?.v} · ${Number(size?.clients).toLocaleString("en-US")} clients · ~${Number(size?.log).toLocaleString("en-US")} log rows · ${opt.runs} runs per variant`);
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
    const buildId = path.join(process.cwd(), ".next", "BUILD_ID");
    if (!opt.http) note = "HTTP part skipped (--no-http).";
    else if (!fs.existsSync(buildId)) note = "HTTP part skipped: no production build (.next/BUILD_ID). Run `npm run build` first.";
    else {
      try {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-bench-"));
        const port = await freePort();
        const env = {
          ...process.env,
          NODE_ENV: "production",
          DATABASE_URL: url.toString(),
          LUMEN_CONFIG: benchConfig(tmp, port),
          LUMEN_DATA_DIR: path.join(tmp, "data"),
        } as NodeJS.ProcessEnv;
        const started = await startServer(env, port);
        server = started.child;
        const origin = `http://127.0.0.1:${port}`;
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

    table(variants, [baseData, baseHttp], data, http, note);
    if (opt.explain) await explainVariants(url.toString(), variants, viewers);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
