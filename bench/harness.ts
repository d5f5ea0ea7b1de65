/**
 * What the page benchmarks (bench/clients-page.ts, bench/client-page.ts) share: the command line, timing,
 * a throwaway PostgreSQL database, the Lumen server with a temporary config, the development sign-in with a
 * cookie jar, the results table and EXPLAIN output. Not a benchmark itself.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { openDatabase, type Db, type DbHandle } from "@/lib/db/client";
import { configPath } from "@/lib/config";

export interface Stats {
  median: number;
  p95: number;
}

export const fmt = (n: number) => n.toLocaleString("en-US");
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

export interface CommonOptions {
  runs: number;
  reuse: string | undefined;
  keep: boolean;
  explain: boolean;
  http: boolean;
}

/**
 * `--NAME N` for every count in `counts` (a whole number ≥ 1, `_` and `,` allowed; default the value given),
 * plus --runs N (default 20), --keep, --reuse NAME, --explain, --no-http and --help (prints `usage`, exits 0).
 * A bad argument prints the message and `usage` and exits 2.
 */
export function parseOptions<K extends string>(usage: string, counts: Record<K, number>): Record<K, number> & CommonOptions {
  const count = (raw: string | undefined, fallback: number, flag: string) => {
    if (raw === undefined) return fallback;
    const n = Number(raw.replace(/[_,]/g, ""));
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} expects a whole number ≥ 1, got "${raw}"`);
    return n;
  };
  try {
    const { values } = parseArgs({
      strict: true,
      options: {
        ...Object.fromEntries(Object.keys(counts).map((k) => [k, { type: "string" as const }])),
        runs: { type: "string" },
        keep: { type: "boolean" },
        reuse: { type: "string" },
        explain: { type: "boolean" },
        "no-http": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    const v = values as Record<string, string | boolean | undefined>;
    const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);
    if (v.help) {
      console.log(usage);
      process.exit(0);
    }
    const reuse = str("reuse");
    if (reuse !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(reuse)) throw new Error(`--reuse expects a database name, got "${reuse}"`);
    const parsed = {} as Record<K, number>;
    for (const [k, fallback] of Object.entries(counts) as [K, number][]) parsed[k] = count(str(k), fallback, k);
    return {
      ...parsed,
      runs: count(str("runs"), 20, "runs"),
      reuse,
      keep: Boolean(v.keep || reuse),
      explain: Boolean(v.explain),
      http: !v["no-http"],
    };
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (i: number) => s[Math.min(s.length - 1, Math.max(0, i))] ?? NaN;
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2, p95: at(Math.ceil(0.95 * s.length) - 1) };
}

/** Median and p95 of `runs` calls of `fn`, after 3 untimed warm-ups. */
export async function measure(runs: number, fn: () => Promise<unknown>): Promise<Stats> {
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

// ---------------------------------------------------------------------------------------------
// One run: the bench database, a temporary directory and the Lumen server, all removed by cleanup()
// ---------------------------------------------------------------------------------------------

export class BenchRun {
  /** The bench database: `lumen_bench_<random>`, or the --reuse name. */
  readonly name: string;
  /** Its URL, on the server of env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). */
  readonly url: string;
  private readonly admin: ReturnType<typeof postgres>;
  private handle: DbHandle | null = null;
  private server: ChildProcess | null = null;
  private tmp: string | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly opt: { reuse?: string; keep: boolean }) {
    const base = process.env.BENCH_DATABASE_URL?.trim() || "postgres://postgres@127.0.0.1:5432/test";
    this.name = opt.reuse ?? `lumen_bench_${crypto.randomBytes(5).toString("hex")}`;
    const url = new URL(base);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
    this.admin = postgres(base, { max: 1, onnotice: () => {} });
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(sig, () => void this.cleanup().finally(() => process.exit(130)));
    }
    // Last resort (crash, closed stdout): never leave a Lumen server behind.
    process.once("exit", () => {
      if (this.server?.pid && this.server.exitCode === null) {
        try {
          process.kill(-this.server.pid, "SIGKILL");
        } catch {}
      }
    });
  }

  /** A temporary directory (made on first use). */
  tmpDir(): string {
    return (this.tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), "lumen-bench-")));
  }

  /** Creates the bench database unless it exists (--reuse) and opens it with a pool of `max` connections. */
  async open(max: number): Promise<Db> {
    const exists = (await this.admin`select 1 from pg_database where datname = ${this.name}`).length > 0;
    if (!exists) await this.admin.unsafe(`create database "${this.name}"`);
    this.handle = await openDatabase({ url: this.url, max });
    return this.handle.db;
  }

  /** the production server (.next/lumen-server.js) on `port`, on the bench database with config `configFile`; its origin. */
  async startNext(port: number, configFile: string, workers = 1): Promise<string> {
    const env = {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: this.url,
      LUMEN_CONFIG: configFile,
      LUMEN_DATA_DIR: path.join(this.tmpDir(), "data"),
      LUMEN_WORKERS: String(workers),
    } as NodeJS.ProcessEnv;
    this.server = await startServer(env, port, workers);
    return `http://127.0.0.1:${port}`;
  }

  /** Stops the server, closes the pool, removes the directory, drops the database (or says it is kept). Once. */
  cleanup(): Promise<void> {
    return (this.closing ??= this.close());
  }

  private async close(): Promise<void> {
    if (this.server) await stopServer(this.server).catch(() => {});
    this.server = null;
    await this.handle?.close().catch(() => {});
    this.handle = null;
    if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = null;
    const name = this.name;
    if (!this.opt.keep) await this.admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
    else console.log(`\nKept database ${name} (run again with --reuse ${name}; drop it with: drop database "${name}")`);
    await this.admin.end({ timeout: 5 });
  }
}

/** Runs the benchmark's main and exits: 0, or 1 with the error. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// HTTP: the Lumen server on a free port, development sign-in, cookie jar
// ---------------------------------------------------------------------------------------------

/** Whether a production build exists (.next/BUILD_ID and the server bundle, `npm run build`). */
/** CPU ticks (utime + stime, CLK_TCK 100) of a process, or null when it is gone. Fields after the ")" of comm. */
export function procStat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/**
 * Every descendant of `root` (not `root` itself) with its CPU ticks, leaving out the subtrees of `exclude`;
 * null without /proc.
 */
export function descendants(root: number, exclude: ReadonlySet<number> = new Set()): Array<{ pid: number; ticks: number }> | null {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const e of entries) {
    const st = procStat(Number(e));
    if (!st) continue;
    ticks.set(Number(e), st.ticks);
    children.set(st.ppid, [...(children.get(st.ppid) ?? []), Number(e)]);
  }
  const out: Array<{ pid: number; ticks: number }> = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.pop()!;
    if (exclude.has(pid)) continue;
    out.push({ pid, ticks: ticks.get(pid) ?? 0 });
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export const hasBuild = () =>
  fs.existsSync(path.join(process.cwd(), ".next", "BUILD_ID")) && fs.existsSync(path.join(process.cwd(), ".next", "lumen-server.js"));

/**
 * Writes `dir`/config.yaml: ./config.yaml (or LUMEN_CONFIG) with the development sign-in on, admin@example.com as
 * the admin and the base URL on `port`. Where that file cannot be read, `fallback` stands in for it (without one,
 * the error is thrown). Returns the file and its text.
 */
export function benchConfig(dir: string, port: number, fallback?: Record<string, unknown>): { file: string; text: string } {
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(fs.readFileSync(configPath(), "utf8")) as Record<string, unknown> | null) ?? {};
  } catch (err) {
    if (!fallback) throw err;
    doc = { ...fallback };
  }
  const obj = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, unknown>) : {});
  doc.app = { ...obj(doc.app), base_url: `http://127.0.0.1:${port}` };
  doc.auth = { ...obj(doc.auth), dev_login: true };
  doc.admins = ["admin@example.com"];
  const file = path.join(dir, "config.yaml");
  const text = stringifyYaml(doc);
  fs.writeFileSync(file, text);
  return { file, text };
}

export class Session {
  private cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async fetch(pathname: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(this.base + pathname, { ...init, redirect: "manual", headers: { ...(init.headers as object), cookie } });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(";")[0] ?? "";
      const eq = pair.indexOf("=");
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
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

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

async function startServer(env: NodeJS.ProcessEnv, port: number, workers: number): Promise<ChildProcess> {
  // Lumen's production server (server.ts, built by `npm run build`), as `npm start` runs it.
  // BENCH_SERVER_BIN: another bundle of server.ts to measure (e.g. a main build beside this one, for an A/B).
  const bin = process.env.BENCH_SERVER_BIN?.trim() || path.join(process.cwd(), ".next", "lumen-server.js");
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, bin, "-p", String(port), "-H", "127.0.0.1"], {
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
    if (child.exitCode !== null) throw new Error(`Lumen exited with code ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.arrayBuffer();
      // Several workers (lib/workers.ts): one answering is not enough, the primary says when all are.
      if (res.ok && (workers === 1 || out.includes(`all ${workers} workers ready`))) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  killGroup(child, "SIGKILL");
  throw new Error(`Lumen did not answer /healthz within 120 s:\n${out}`);
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once("exit", r));
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export interface TableLayout {
  /** Width of the variant column. */
  width: number;
  /** The page's budget in ms: the last column says whether each median is below it. */
  targetMs: number;
  /** The HTTP cell of a row without an HTTP time. */
  noHttp: string;
}

/** The results: per variant data-layer and HTTP median, p95 and ratio to the baselines (select 1 · /healthz). */
export function printTable(
  layout: TableLayout,
  labels: string[],
  base: [Stats, Stats | null],
  data: Stats[],
  http: (Stats | null)[],
  note: string,
) {
  const { width, targetMs } = layout;
  const f = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1)).padStart(8);
  const ratio = (s: Stats, b: Stats) => `${(s.median / b.median).toFixed(1)}×`.padStart(9);
  const verdict = (s: Stats | null) => (s ? (s.median < targetMs ? "yes" : "NO") : "-");
  console.log(
    `\n${"variant".padEnd(width)}│ data layer: median     p95  vs select 1 │ HTTP GET: median     p95  vs /healthz │ < ${targetMs} ms (data / HTTP)`,
  );
  const line = (label: string, d: Stats, h: Stats | null, extra: string) =>
    console.log(
      `${label.padEnd(width)}│ ${" ".repeat(10)}${f(d.median)}${f(d.p95)}${ratio(d, base[0])}   │ ${
        h && base[1] ? `${" ".repeat(8)}${f(h.median)}${f(h.p95)}${ratio(h, base[1])}  ` : layout.noHttp
      } │ ${extra}`,
    );
  line("baseline (select 1 · /healthz)", base[0], base[1], "");
  labels.forEach((label, i) => line(label, data[i]!, http[i] ?? null, `${verdict(data[i]!)} / ${verdict(http[i] ?? null)}`));
  if (note) console.log(`\n${note}`);
}

export interface LoggedQuery {
  query: string;
  params: unknown[];
}

/**
 * A one-connection database handle on `url` that records every query it runs (`captured`), and `explain`,
 * which prints EXPLAIN (ANALYZE, BUFFERS) of a recorded query under `--- [label: ]query`. `end` when done.
 */
export async function queryLog(url: string) {
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const schema = await import("@/lib/db/schema");
  const client = postgres(url, { max: 1, onnotice: () => {} });
  const captured: LoggedQuery[] = [];
  const db = drizzle(client, { schema, logger: { logQuery: (query, params) => captured.push({ query, params }) } }) as unknown as Db;
  return {
    db,
    captured,
    async explain(q: LoggedQuery, label?: string) {
      const plan = await client.unsafe(`explain (analyze, buffers) ${q.query}`, q.params as never[]);
      console.log(`\n--- ${label ? `${label}: ` : ""}${q.query}\n    params ${JSON.stringify(q.params)}`);
      for (const line of plan) console.log(`    ${String(Object.values(line)[0])}`);
    },
    end: () => client.end(),
  };
}
