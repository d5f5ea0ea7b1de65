/**
 * The fault suite's Lumen: the built production server (.next/lumen-server.js) started as an
 * operator would (`-p PORT -H 127.0.0.1`, env DATABASE_URL / LUMEN_CONFIG / LUMEN_DATA_DIR /
 * LUMEN_SECRET), its log captured to a file, stopped by SIGTERM or SIGKILL; plus the config.yaml it
 * reads and the client, key and pool seeded directly in its database.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { openDatabase } from "@/lib/db/client";
import { apiKeys, clients, coinPools } from "@/lib/db/schema";
import { generateApiKey } from "@/lib/keys/api-key";
import { createServerDatabase } from "../helpers/db";
import { freePort } from "../helpers/net";
import { chat, type Answer, type ChatCall } from "./client";
import type { FakeUpstream } from "../helpers/fake-upstream";
import { FAULT_BEHAVIOURS, startFaultUpstream, type FaultUpstreamOptions } from "../helpers/upstream-faults";

export const SECRET = "faults-secret-faults-secret-faults-secret-0123";
export const CLIENT = "fault-bot";
/** Prices of every scripted model: 0.001 coin per input token, 0.002 per output token. */
export const PRICES = { input: 1000, output: 2000 };
export const STARTING_BALANCE = "1000000.000000";

/** The PostgreSQL server whose databases the suite creates and drops (as .ci/run's $PG_BASE). */
export const pgBase = () => process.env.FAULTS_DATABASE_URL?.trim() || "postgres://postgres@127.0.0.1:5432/test";

const ROOT = process.cwd();
const SERVER = path.join(ROOT, ".next", "lumen-server.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// config.yaml
// ---------------------------------------------------------------------------------------------

export interface ConfigOptions {
  upstreamUrl: string;
  /** `api:` fields (config.yaml's api section). */
  api?: Record<string, number | boolean>;
  prices?: { input: number; output: number };
  /** The client's pool (refresh 0: no refills during a test, so the pool equation needs none). */
  pool?: { max: number; refresh?: number; starting?: number };
  /** More models: name → upstream behaviour and extra fields (e.g. max_output_tokens). */
  extraModels?: Array<{ name: string; behaviour: string; max_output_tokens?: number }>;
}

export function configYaml(o: ConfigOptions): string {
  const prices = o.prices ?? PRICES;
  const api: Record<string, unknown> = { require_consent: false, upstream_timeout_s: 2, ...(o.api ?? {}) };
  const pool = { refresh: 0, starting: Number(STARTING_BALANCE), ...(o.pool ?? { max: 1_000_000 }) };
  const model = (name: string, behaviour: string, extra: Record<string, unknown> = {}) => ({
    name,
    input_cost_per_million: prices.input,
    output_cost_per_million: prices.output,
    ...extra,
    endpoints: [{ url: o.upstreamUrl, model: behaviour }],
  });
  return stringify({
    auth: { dev_login: false },
    admins: ["admin@example.com"],
    api,
    clients: { default: { max: 0 }, [CLIENT]: { ...pool, model_access: { default: "allowed" } } },
    models: [
      ...FAULT_BEHAVIOURS.map((b) => model(b, b)),
      ...(o.extraModels ?? []).map(({ name, behaviour, ...extra }) => model(name, behaviour, extra)),
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------------

export interface Seeded {
  clientId: string;
  keyId: string;
  apiKey: string;
  keyHash: string;
}

/**
 * Migrates the database, then inserts the client, one API key and its pool row at STARTING_BALANCE
 * (seeded rather than created on first use, so the pool equation's starting point is known).
 */
export async function seedClient(databaseUrl: string): Promise<Seeded> {
  const handle = await openDatabase({ url: databaseUrl, max: 2 });
  try {
    const [client] = await handle.db.insert(clients).values({ name: CLIENT }).returning();
    const key = generateApiKey(SECRET);
    const [row] = await handle.db
      .insert(apiKeys)
      .values({ clientId: client!.id, name: "faults", keyHash: key.hash, hint: key.hint })
      .returning();
    await handle.db.insert(coinPools).values({ clientId: client!.id, balance: STARTING_BALANCE });
    return { clientId: client!.id, keyId: row!.id, apiKey: key.plaintext, keyHash: key.hash };
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

const running = new Set<ChildProcess>();
// A test process that dies must not leave a Lumen server behind.
process.once("exit", () => {
  for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the stop() call to the exit. */
  ms: number;
}

export class LumenServer {
  private child: ChildProcess | null = null;
  private exited: Promise<Exit> | null = null;
  private stopAt = 0;
  readonly url: string;

  constructor(
    readonly opts: { port: number; databaseUrl: string; configFile: string; dataDir: string; logFile: string; workers?: number },
  ) {
    this.url = `http://127.0.0.1:${opts.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the server and waits (≤ 90 s) until /healthz answers 200. */
  async start(): Promise<void> {
    if (!fs.existsSync(SERVER)) throw new Error("Run `npm run build` before the fault suite (.next/lumen-server.js is missing).");
    const log = fs.openSync(this.opts.logFile, "a");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: this.opts.databaseUrl,
      LUMEN_CONFIG: this.opts.configFile,
      LUMEN_DATA_DIR: this.opts.dataDir,
      LUMEN_SECRET: SECRET,
      LUMEN_WORKERS: String(this.opts.workers ?? 1),
      // Nothing but 127.0.0.1 traffic.
      NEXT_TELEMETRY_DISABLED: "1",
    };
    delete env.PORT;
    const child = spawn(process.execPath, [SERVER, "-p", String(this.opts.port), "-H", "127.0.0.1"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    this.child = child;
    running.add(child);
    this.exited = new Promise<Exit>((resolve) =>
      child.once("exit", (code, signal) => {
        running.delete(child);
        resolve({ code, signal, ms: Math.round(performance.now() - this.stopAt) });
      }),
    );
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`Lumen exited (${child.exitCode}) at start:\n${this.log().slice(-2_000)}`);
      const ok = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
      // Several workers (lib/workers.ts): one answering is not enough, the primary says when all are.
      const workers = this.opts.workers ?? 1;
      if (ok && (workers === 1 || this.log().includes(`all ${workers} workers ready`))) return;
      await sleep(200);
    }
    throw new Error(`Lumen did not become healthy within 90 s; log ${this.opts.logFile}`);
  }

  /** Sends `signal` (default SIGTERM) and waits ≤ timeoutMs for the exit; SIGKILL after that. */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000): Promise<Exit> {
    if (!this.child || !this.exited) throw new Error("not started");
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.stopAt = performance.now();
      this.child.kill(signal);
    }
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a signal without waiting (e.g. a first SIGTERM before a second). A stop signal starts the exit
   * clock, so that an exit it alone caused is timed from it, not from an earlier stop of another process.
   */
  signal(signal: NodeJS.Signals): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      if (signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGKILL") this.stopAt = performance.now();
      this.child.kill(signal);
    }
  }

  /** Resolves when the process has exited. */
  exit(): Promise<Exit> {
    if (!this.exited) throw new Error("not started");
    return this.exited;
  }

  log(): string {
    return fs.existsSync(this.opts.logFile) ? fs.readFileSync(this.opts.logFile, "utf8") : "";
  }

  /** Waits (≤ timeoutMs) until the log has more occurrences of `text` than `after`; false on timeout. */
  async waitForLog(text: string, after: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.log().split(text).length - 1 > after) return true;
      await sleep(100);
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// A whole scenario: upstream + fresh database + seed + config + server
// ---------------------------------------------------------------------------------------------

export interface Rig {
  upstream: FakeUpstream;
  server: LumenServer;
  databaseUrl: string;
  seeded: Seeded;
  configFile: string;
  tmp: string;
  /** One chat call to the current server with the seeded key. */
  call(c: ChatCall): Promise<Answer>;
  /** Rewrites config.yaml: the rig's options with `patch` over them (the server's watcher applies it). */
  writeConfig(patch: Omit<ConfigOptions, "upstreamUrl">): void;
  /** A new server process on the same database, config and log (after a stop). */
  restart(): Promise<LumenServer>;
  cleanup(): Promise<void>;
}

export interface RigOptions extends Omit<ConfigOptions, "upstreamUrl"> {
  upstream?: FaultUpstreamOptions;
  /** A database URL to use instead of a fresh one on pgBase() (the outage test's own cluster). */
  databaseUrl?: string;
  /** Gateway workers of the server (LUMEN_WORKERS; default 1). */
  workers?: number;
}

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-faults-"));
  const upstream = await startFaultUpstream(o.upstream);
  const created = o.databaseUrl ? null : await createServerDatabase(pgBase());
  const databaseUrl = o.databaseUrl ?? created!.url;
  const configFile = path.join(tmp, "config.yaml");
  const writeConfig = (patch: Omit<ConfigOptions, "upstreamUrl">) =>
    fs.writeFileSync(configFile, configYaml({ ...o, ...patch, upstreamUrl: upstream.url }));
  writeConfig({});
  const seeded = await seedClient(databaseUrl);
  const make = async () =>
    new LumenServer({
      port: await freePort(),
      databaseUrl,
      configFile,
      dataDir: path.join(tmp, "data"),
      logFile: path.join(tmp, "server.log"),
      workers: o.workers,
    });
  const rig: Rig = {
    upstream,
    server: await make(),
    databaseUrl,
    seeded,
    configFile,
    tmp,
    writeConfig,
    call: (c) => chat(rig.server.url, seeded.apiKey, c),
    async restart() {
      rig.server = await make();
      await rig.server.start();
      return rig.server;
    },
    async cleanup() {
      await rig.server.stop("SIGKILL").catch(() => {});
      await upstream.close();
      await created?.drop().catch((err: unknown) => console.warn(`faults: drop failed: ${(err as Error).message}`));
      if (!process.env.FAULTS_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
      else console.log(`faults: kept ${tmp}`);
    },
  };
  try {
    await rig.server.start();
  } catch (err) {
    await rig.cleanup();
    throw err;
  }
  return rig;
}
