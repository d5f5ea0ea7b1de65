/**
 * `npm run bench:startup -- [--runs 5] [--db pglite|postgres|both]`
 *
 * How long the production server (.next/lumen-server.js, `npm run build`) takes from spawn to its first
 * `200` from `/healthz` when its data already exists (issue 12, target ≤ 1.5 s). Per database: one untimed
 * start creates the data (PGlite folder in a temporary directory, or a fresh PostgreSQL database
 * `lumen_bench_startup_<random>` that is dropped afterwards) and runs the migrations; then `--runs` timed
 * starts, each stopped with SIGTERM. Prints per run: the first HTTP answer of any status, the first 200 from
 * /healthz, the first 200 from /v1/models (the gateway's route table, 401 without a key counts as answered
 * by the gateway), the first answer of any status from the console's /signin page (Next.js, which the server
 * loads after the database; asked only once /healthz said 200, as a request waiting for the console would
 * delay the /healthz answer behind its page's loading), the phases the server logs ("startup phases", ms since its process started) and how long
 * the ordered shutdown took; then the medians. A benchmark, not a test: it fails only when it cannot run.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { benchConfig, hasBuild, runMain, stats } from "./harness";
import { freePort } from "../tests/helpers/net";

const USAGE = `Usage: npm run bench:startup -- [options]
  --runs N         timed starts per database (default 5)
  --db WHICH       pglite, postgres or both (default both)
  --server FILE    the server bundle to start (default .next/lumen-server.js), e.g. an older build to compare
Base server for PostgreSQL: env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
Extra node flags for the server: env BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=DIR").`;

const TARGET_MS = 1_500;
const SECRET = "lumen-bench-startup-secret-0123456789abcdef";

interface Options {
  server: string;
  runs: number;
  db: "pglite" | "postgres" | "both";
}

function options(): Options {
  try {
    const { values: v } = parseArgs({
      strict: true,
      options: { runs: { type: "string" }, db: { type: "string" }, server: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (v.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const runs = v.runs === undefined ? 5 : Number(v.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs expects a whole number ≥ 1, got "${v.runs}"`);
    const db = v.db ?? "both";
    if (db !== "pglite" && db !== "postgres" && db !== "both") throw new Error(`--db expects pglite, postgres or both, got "${db}"`);
    const server = path.resolve(v.server ?? path.join(".next", "lumen-server.js"));
    if (!fs.existsSync(server)) throw new Error(`--server: no file ${server}`);
    return { server, runs, db };
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** One start: ms after spawn of each milestone (null: never seen), and the server's own phases. */
interface Start {
  firstAnswer: number | null;
  healthz: number | null;
  gateway: number | null;
  /** First answer of the console (GET /signin, any status): Next.js loaded and prepared. */
  console: number | null;
  /** "startup phases" log line of the server: ms since its process started. */
  phases: Record<string, number>;
  /** SIGTERM to exit. */
  shutdown: number;
  exitCode: number | null;
}

function environment(dataDir: string, configFile: string, databaseUrl: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", LUMEN_CONFIG: configFile, LUMEN_DATA_DIR: dataDir, LUMEN_SECRET: SECRET };
  for (const name of ["DATABASE_URL", "HOST", "PORT", "LUMEN_ALLOW_DEV_LOGIN", "LUMEN_KEY_PEPPER", "AUTH_SECRET"]) delete env[name];
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Status of GET url, or null when nothing answers (not listening yet). */
async function probe(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

async function oneStart(bin: string, port: number, env: NodeJS.ProcessEnv): Promise<Start> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, bin, "-p", String(port), "-H", "127.0.0.1"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const phases: Record<string, number> = {};
  let pending = "";
  const collect = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
    pending += b.toString();
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      try {
        const o = JSON.parse(line) as { msg?: string; ms?: Record<string, number> };
        if (o.msg === "startup phases" && o.ms) Object.assign(phases, o.ms);
      } catch {}
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const base = `http://127.0.0.1:${port}`;
  const result: Start = { firstAnswer: null, healthz: null, gateway: null, console: null, phases, shutdown: NaN, exitCode: null };
  const deadline = t0 + 120_000;
  try {
    // Poll /healthz and /v1/models in parallel, every 5 ms, until both answered as a ready server does.
    const pollHealthz = async () => {
      while (result.healthz === null && performance.now() < deadline && child.exitCode === null) {
        const status = await probe(`${base}/healthz`);
        const at = performance.now() - t0;
        if (status !== null) result.firstAnswer = Math.min(result.firstAnswer ?? at, at);
        if (status === 200) result.healthz = at;
        else await sleep(5);
      }
    };
    const pollGateway = async () => {
      while (result.gateway === null && performance.now() < deadline && child.exitCode === null) {
        const status = await probe(`${base}/v1/models`);
        const at = performance.now() - t0;
        if (status !== null) result.firstAnswer = Math.min(result.firstAnswer ?? at, at);
        // No key: 401 from the gateway once it serves; 503 while it is starting.
        if (status === 401 || status === 200) result.gateway = at;
        else await sleep(5);
      }
    };
    // The console answers once Next.js is prepared (requests before that wait for it). Asked only after
    // /healthz said 200: a console request waiting inside the server is served (its page loaded and
    // rendered, ~0.3 s of this thread) the moment Next is ready, and held back the /healthz answer that a
    // load balancer polling alone would have had then.
    const pollConsole = async () => {
      while (result.console === null && performance.now() < deadline && child.exitCode === null) {
        const status = await probe(`${base}/signin`);
        const at = performance.now() - t0;
        if (status !== null) result.console = at;
        else await sleep(5);
      }
    };
    await Promise.all([pollHealthz().then(pollConsole), pollGateway()]);
    if (result.healthz === null) throw new Error(`Lumen did not answer /healthz with 200 (exit code ${child.exitCode}):\n${out}`);
    // Let the background work the server started settle a moment before stopping it (a real stop).
    await sleep(300);
  } finally {
    const s0 = performance.now();
    if (child.exitCode === null) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    result.exitCode = await exit;
    clearTimeout(killer);
    result.shutdown = performance.now() - s0;
  }
  if (result.exitCode !== 0) throw new Error(`Lumen exited with code ${result.exitCode} after SIGTERM:\n${out}`);
  return result;
}

const f = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? "-" : n.toFixed(0)).padStart(8);

function printRuns(label: string, runs: Start[]) {
  const phaseNames = [...new Set(runs.flatMap((r) => Object.keys(r.phases)))];
  console.log(`\n${label}: ms after spawn (server phases: ms after its process started, as it logs them)`);
  console.log(
    `  run │ 1st answer  healthz  gateway  console │${phaseNames.map((p) => p.slice(0, 9).padStart(10)).join("")} │ shutdown`,
  );
  const row = (name: string, r: Omit<Start, "exitCode">) =>
    console.log(
      `  ${name.padStart(3)} │ ${f(r.firstAnswer)}   ${f(r.healthz)} ${f(r.gateway)} ${f(r.console)} │${phaseNames.map((p) => `  ${f(r.phases[p])}`).join("")} │ ${f(r.shutdown)}`,
    );
  runs.forEach((r, i) => row(String(i + 1), r));
  const med = (xs: (number | null | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === "number" && !Number.isNaN(x));
    return v.length ? stats(v).median : null;
  };
  const m = {
    firstAnswer: med(runs.map((r) => r.firstAnswer)),
    healthz: med(runs.map((r) => r.healthz)),
    gateway: med(runs.map((r) => r.gateway)),
    console: med(runs.map((r) => r.console)),
    phases: Object.fromEntries(phaseNames.map((p) => [p, med(runs.map((r) => r.phases[p])) ?? NaN])),
    shutdown: med(runs.map((r) => r.shutdown)) ?? NaN,
  };
  row("med", m);
  const worst = Math.max(...runs.map((r) => r.healthz ?? Infinity));
  console.log(
    `  spawn → first /healthz 200 ≤ ${TARGET_MS} ms: median ${f(m.healthz).trim()} ms, slowest ${worst.toFixed(0)} ms → ${
      m.healthz !== null && m.healthz <= TARGET_MS ? "met (median)" : "NOT met"
    }`,
  );
}

async function bench(server: string, label: string, runs: number, databaseUrl: string | null): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-bench-startup-"));
  try {
    const port = await freePort();
    const { file } = benchConfig(tmp, port);
    const env = environment(path.join(tmp, "data"), file, databaseUrl);
    const first = await oneStart(server, port, env);
    console.log(`\n${label}: first start (creates the data, runs the migrations): first /healthz 200 after ${first.healthz?.toFixed(0)} ms`);
    const timed: Start[] = [];
    for (let i = 0; i < runs; i++) timed.push(await oneStart(server, port, env));
    printRuns(label, timed);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  const opt = options();
  if (!hasBuild()) throw new Error("no production build (.next/BUILD_ID, .next/lumen-server.js): run `npm run build`");
  const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`Lumen start-up bench · node ${process.version} · ${os.cpus().length} CPUs · load average ${loadavg()} · ${opt.runs} timed starts per database · ${path.relative(process.cwd(), opt.server)}`);
  if (opt.db !== "postgres") await bench(opt.server, "PGlite (data folder)", opt.runs, null);
  if (opt.db !== "pglite") {
    const base = process.env.BENCH_DATABASE_URL?.trim() || "postgres://postgres@127.0.0.1:5432/test";
    const name = `lumen_bench_startup_${crypto.randomBytes(5).toString("hex")}`;
    const url = new URL(base);
    url.pathname = `/${name}`;
    const admin = postgres(base, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    try {
      await bench(opt.server, `PostgreSQL (${name})`, opt.runs, url.toString());
    } finally {
      await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
      await admin.end({ timeout: 5 });
    }
  }
  console.log(`\nload average at the end: ${loadavg()}`);
}

runMain(main);
