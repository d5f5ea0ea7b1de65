/**
 * `npm run bench:compare -- --b PATH [--a PATH] [--a-node-args="…"] [--b-node-args="…"] [--rounds 6] [--requests 3000]
 *  [--concurrency 64] [--c1-requests 200] [--warmup 2000]`
 *
 * An interleaved A/B of two builds of Lumen's production server (server.ts bundles), or of one bundle under two
 * sets of node flags. A run of bench:gateway varies by ±30 % on this machine, more than most single changes
 * are worth; so both servers run at once on one bench database (two instances, as in production), the same
 * requests go to each in turn — A then B, B then A in the next round — and the bench prints each round and the
 * median of the rounds: the server's CPU per request at the high concurrency (the server process tree, /proc),
 * requests per second, and the p50 at concurrency 1, with B's ratio to A. Noise that hits one round hits both
 * variants alike. Then the accounting check over both instances: one request-log row per request sent, the
 * counters equal to the log, the pool (with both instances' coin leases) equal to its size minus the log.
 *
 * Its own noise, measured with the same build as A and B (4 rounds, this machine): the medians' B/A came out
 * 1.03 (JSON) and 1.14 (SSE) for CPU per request, and B was below A in 1–2 rounds of 4. So a difference under
 * ~15 % needs more rounds before it means anything; the "rounds in which B spent less" line says how one-sided it was.
 *
 * A is `.next/lumen-server.js` by default. To compare a change against main: build main, copy its
 * `.next/lumen-server.js` to e.g. `.next/lumen-server-main.js` (the bundle finds Next's build in the working
 * directory), build the change, and pass `--b .next/lumen-server-main.js`.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { spawn, type ChildProcess } from "node:child_process";
import { sql } from "drizzle-orm";
import { stringify as stringifyYaml } from "yaml";
import { rows } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { generateApiKey } from "@/lib/keys/api-key";
import { parseConfigText } from "@/lib/config";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { accountingMismatches, accountingTotals } from "@/lib/coins/audit";
import { BenchRun, descendants, fmt, hasBuild, procStat, runMain } from "./harness";
import { freePort } from "../tests/helpers/net";
import { fixedLatencyChat, startFakeUpstream } from "../tests/helpers/fake-upstream";

const USAGE = `Usage: npm run bench:compare -- --b PATH [options]
  --a PATH             server bundle A (default .next/lumen-server.js)
  --b PATH             server bundle B (default: the same as A; then set --b-node-args)
  --a-node-args=…      node flags for A, with "=" (e.g. --a-node-args="--max-semi-space-size=64"); --b-node-args likewise
  --rounds N           rounds, each variant once per round per mode, order alternating (default 8)
  --requests N         requests per variant, mode and round at the high concurrency (default 3,000)
  --concurrency N      the high concurrency (default 64)
  --c1-requests N      requests per variant, mode and round at concurrency 1 (default 200; 0 leaves it out)
  --warmup N           untimed requests per variant and mode first (default 2,000)
Base server: env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).`;

const SECRET = "lumen-bench-compare-secret-0123456789abcdef";
const MODEL = "bench-model";
const CLIENT = "bench-compare";
const POOL = 1_000_000;
const USAGE_TOKENS = { prompt: 12, completion: 8 };

interface Options {
  a: string;
  b: string;
  aArgs: string[];
  bArgs: string[];
  rounds: number;
  requests: number;
  concurrency: number;
  c1: number;
  warmup: number;
}

function options(): Options {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        a: { type: "string" },
        b: { type: "string" },
        "a-node-args": { type: "string", default: "" },
        "b-node-args": { type: "string", default: "" },
        rounds: { type: "string", default: "8" },
        requests: { type: "string", default: "3000" },
        concurrency: { type: "string", default: "64" },
        "c1-requests": { type: "string", default: "200" },
        warmup: { type: "string", default: "2000" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (flag: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${flag} expects a whole number ≥ ${min}, got "${raw}"\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const bundle = (flag: string, raw: string | undefined) => {
    const file = path.resolve(raw ?? path.join(".next", "lumen-server.js"));
    if (!fs.existsSync(file)) {
      console.error(`--${flag}: no server bundle at ${file} (npm run build makes .next/lumen-server.js)\n\n${USAGE}`);
      process.exit(2);
    }
    return file;
  };
  const args = (raw: string) => raw.split(/\s+/).filter(Boolean);
  const o: Options = {
    a: bundle("a", parsed.a),
    b: bundle("b", parsed.b ?? parsed.a),
    aArgs: args(parsed["a-node-args"]),
    bArgs: args(parsed["b-node-args"]),
    rounds: whole("rounds", parsed.rounds, 1),
    requests: whole("requests", parsed.requests, 1),
    concurrency: whole("concurrency", parsed.concurrency, 1),
    c1: whole("c1-requests", parsed["c1-requests"], 0),
    warmup: whole("warmup", parsed.warmup, 0),
  };
  if (o.a === o.b && o.aArgs.join(" ") === o.bArgs.join(" ")) {
    console.error(`A and B are the same server with the same flags: give --b or --b-node-args\n\n${USAGE}`);
    process.exit(2);
  }
  return o;
}

/** CPU (user + system, ms) of a process and all its descendants (Linux /proc). */
function treeCpuMs(root: number): number {
  const ticks = (procStat(root)?.ticks ?? 0) + (descendants(root) ?? []).reduce((sum, p) => sum + p.ticks, 0);
  return ticks * 10; // CLK_TCK 100
}

interface Variant {
  name: "A" | "B";
  label: string;
  child: ChildProcess;
  url: string;
}

async function startVariant(name: "A" | "B", bundle: string, nodeArgs: string[], env: NodeJS.ProcessEnv, dataDir: string): Promise<Variant> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, bundle, "-p", String(port), "-H", "127.0.0.1"], {
    env: { ...env, LUMEN_DATA_DIR: dataDir },
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4_000)));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server ${name} exited with code ${child.exitCode}:\n${err}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.arrayBuffer();
      if (res.ok) {
        const label = `${path.relative(process.cwd(), bundle)}${nodeArgs.length ? ` ${nodeArgs.join(" ")}` : ""}`;
        return { name, label, child, url: `http://127.0.0.1:${port}/v1/chat/completions` };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server ${name} did not answer /healthz within 120 s:\n${err}`);
}

function stopVariant(v: Variant): Promise<void> {
  if (v.child.exitCode !== null || !v.child.pid) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-v.child.pid!, "SIGKILL");
      } catch {}
    }, 5_000);
    v.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      process.kill(-v.child.pid!, "SIGTERM");
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

const body = (streaming: boolean) =>
  JSON.stringify({
    model: MODEL,
    messages: [
      { role: "system", content: "You are a benchmark." },
      { role: "user", content: "Say hello to the gateway benchmark." },
    ],
    max_tokens: 32,
    ...(streaming ? { stream: true, stream_options: { include_usage: true } } : {}),
  });

interface PhaseResult {
  rps: number;
  p50: number;
  cpuMs: number;
}

/** `n` requests with `concurrency` in flight; throws on the first failed answer (a comparison of broken servers is no comparison). */
async function phase(v: Variant, key: string, streaming: boolean, n: number, concurrency: number): Promise<PhaseResult> {
  const payload = body(streaming);
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = treeCpuMs(v.child.pid!);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        const t = performance.now();
        const res = await fetch(v.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: payload });
        const text = await res.text();
        latencies.push(performance.now() - t);
        const ok = res.status === 200 && (streaming ? text.trimEnd().endsWith("data: [DONE]") : text.includes('"usage"'));
        if (!ok) throw new Error(`server ${v.name}: HTTP ${res.status}: ${text.slice(0, 200)}`);
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpuMs = (treeCpuMs(v.child.pid!) - cpu0) / n;
  latencies.sort((x, y) => x - y);
  return { rps: (n / wall) * 1000, p50: latencies[Math.floor(latencies.length / 2)]!, cpuMs };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main() {
  const opt = options();
  if (!hasBuild()) throw new Error("no production build: run `npm run build` first");
  const run = new BenchRun({ keep: false });
  const answer = fixedLatencyChat({ latencyMs: 20, words: ["Hello", " from", " the", " bench", " upstream", "."], usage: USAGE_TOKENS });
  const upstream = await startFakeUpstream({ models: [MODEL], record: false, script: (x) => answer(x) });
  const variants: Variant[] = [];
  let sent = 0;
  try {
    const db = await run.open(4);
    const [client] = await db.insert(clients).values({ name: CLIENT }).returning({ id: clients.id });
    const key = generateApiKey(SECRET);
    await db.insert(apiKeys).values({ clientId: client!.id, name: "bench", keyHash: key.hash, hint: key.hint });
    const dir = run.tmpDir();
    const doc = {
      app: { name: "Lumen bench", base_url: "http://127.0.0.1:3000", data_dir: path.join(dir, "data") },
      auth: { dev_login: false },
      admins: ["admin@example.com"],
      api: { require_consent: false, upstream_timeout_s: 60 },
      metrics: { enabled: false },
      defaults: { model_access: "blocked" },
      clients: { default: { max: 0 }, [CLIENT]: { max: POOL, refresh: POOL, starting: POOL, model_access: { default: "allowed" } } },
      models: [
        { name: MODEL, input_cost_per_million: 0.5, output_cost_per_million: 1.5, endpoints: [{ url: `http://127.0.0.1:${upstream.port}/v1`, api_key: "bench-upstream-key" }] },
      ],
    };
    const file = path.join(dir, "config.yaml");
    const text = stringifyYaml(doc);
    parseConfigText(text, file);
    fs.writeFileSync(file, text);
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", DATABASE_URL: run.url, LUMEN_CONFIG: file, LUMEN_SECRET: SECRET, LUMEN_WORKERS: "1" };
    // One after the other: the second waits for the first's migrations and start-up.
    variants.push(await startVariant("A", opt.a, opt.aArgs, env, path.join(dir, "data-a")));
    variants.push(await startVariant("B", opt.b, opt.bArgs, env, path.join(dir, "data-b")));
    console.log(`Lumen server A/B · ${opt.rounds} rounds, order alternating · PostgreSQL (${run.name}), one client, pool ${fmt(POOL)} · upstream latency 20 ms`);
    for (const v of variants) console.log(`  ${v.name}: ${v.label}`);

    for (const v of variants) {
      for (const streaming of [false, true]) {
        if (opt.warmup > 0) await phase(v, key.plaintext, streaming, opt.warmup, Math.min(16, opt.concurrency));
        sent += opt.warmup;
      }
    }

    type Key = `${"A" | "B"} ${"JSON" | "SSE"}`;
    const cn = new Map<Key, PhaseResult[]>();
    const c1 = new Map<Key, number[]>();
    console.log(`\nround variant mode │ c=${opt.concurrency}: CPU ms/req   req/s${opt.c1 ? ` │ c=1 p50 ms` : ""}`);
    for (let round = 0; round < opt.rounds; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const streaming of [false, true]) {
        for (const v of order) {
          const k: Key = `${v.name} ${streaming ? "SSE" : "JSON"}`;
          const r = await phase(v, key.plaintext, streaming, opt.requests, opt.concurrency);
          sent += opt.requests;
          cn.set(k, [...(cn.get(k) ?? []), r]);
          let one = "";
          if (opt.c1 > 0) {
            const p = await phase(v, key.plaintext, streaming, opt.c1, 1);
            sent += opt.c1;
            c1.set(k, [...(c1.get(k) ?? []), p.p50]);
            one = ` │ ${p.p50.toFixed(2).padStart(10)}`;
          }
          console.log(`${String(round + 1).padStart(5)} ${v.name.padEnd(7)} ${(streaming ? "SSE" : "JSON").padEnd(4)} │ ${r.cpuMs.toFixed(3).padStart(17)} ${r.rps.toFixed(0).padStart(7)}${one}`);
        }
      }
    }

    console.log(`\nMedians of the rounds (B / A: below 1 means B spends less, above 1 that it serves more)`);
    console.log(`  mode │ CPU ms/req  A      B    B/A │ req/s  A      B    B/A${opt.c1 ? ` │ c=1 p50 A      B    B−A` : ""}`);
    for (const mode of ["JSON", "SSE"] as const) {
      const a = cn.get(`A ${mode}`)!;
      const b = cn.get(`B ${mode}`)!;
      const [ca, cb] = [median(a.map((x) => x.cpuMs)), median(b.map((x) => x.cpuMs))];
      const [ra, rb] = [median(a.map((x) => x.rps)), median(b.map((x) => x.rps))];
      let one = "";
      if (opt.c1 > 0) {
        const [pa, pb] = [median(c1.get(`A ${mode}`)!), median(c1.get(`B ${mode}`)!)];
        one = ` │ ${pa.toFixed(2).padStart(9)} ${pb.toFixed(2).padStart(6)} ${(pb - pa >= 0 ? "+" : "") + (pb - pa).toFixed(2)}`;
      }
      console.log(
        `  ${mode.padEnd(4)} │ ${ca.toFixed(3).padStart(12)} ${cb.toFixed(3).padStart(6)} ${(cb / ca).toFixed(2).padStart(6)} │ ${ra.toFixed(0).padStart(8)} ${rb.toFixed(0).padStart(6)} ${(rb / ra).toFixed(2).padStart(6)}${one}`,
      );
    }
    const wins = (mode: "JSON" | "SSE") => cn.get(`A ${mode}`)!.filter((a, i) => cn.get(`B ${mode}`)![i]!.cpuMs < a.cpuMs).length;
    console.log(`  rounds in which B spent less CPU than A: JSON ${wins("JSON")} of ${opt.rounds}, SSE ${wins("SSE")} of ${opt.rounds}`);

    // Both instances stop first: their coin leases go back to the pool, their settlements are all written.
    for (const v of variants) await stopVariant(v);
    const totals = await accountingTotals(db);
    const mismatches = accountingMismatches(totals);
    const [p] = await rows<{ balance: string; open: number; logged: number }>(
      db,
      sql`select (select (balance + leased)::text from coin_pools) as balance, (select count(*)::int from coin_reservations) as open,
                 (select count(*)::int from request_log) as logged`,
    );
    const want = formatMicro(parseCoins(String(POOL)) - parseCoins(totals.requestLog.coins));
    const ok = p!.logged === sent && mismatches.length === 0 && p!.balance === want && p!.open === 0;
    console.log(`\nAccounting (both instances, ${run.name})`);
    console.log(
      `  requests sent ${fmt(sent)} · request_log rows ${fmt(p!.logged)} · counters ${mismatches.length ? `DIFFER (${mismatches.join(", ")})` : "equal the log"}` +
        ` · pool ${p!.balance} = ${fmt(POOL)} − Σ log coins ${want} · open reservations ${p!.open} → ${ok ? "exact" : "NOT EXACT"}`,
    );
    if (!ok) throw new Error("the accounting is not exact (above)");
  } finally {
    for (const v of variants) await stopVariant(v).catch(() => {});
    await upstream.close();
    await run.cleanup();
  }
}

runMain(main);
