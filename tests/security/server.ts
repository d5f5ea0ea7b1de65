/** Starting and stopping the built production server (.next/lumen-server.js) for the security suite. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** The root secret of the suite's servers (LUMEN_SECRET); API keys are peppered with it. */
export const SECRET = "security-suite-secret-0123456789-abcdefghij";

export interface ServerOptions {
  port: number;
  configFile: string;
  dataDir: string;
  logFile: string;
  /** PostgreSQL; absent = the embedded database in dataDir. */
  databaseUrl?: string;
  /** Extra arguments (-H …) and environment. */
  args?: string[];
  env?: Record<string, string | undefined>;
}

export interface RunningServer {
  child: ChildProcess;
  logFile: string;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function environment(opts: ServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LUMEN_CONFIG: opts.configFile,
    LUMEN_DATA_DIR: opts.dataDir,
    LUMEN_SECRET: SECRET,
    PORT: String(opts.port),
    ...opts.env,
  };
  for (const name of ["DATABASE_URL", "HOST", "LUMEN_ALLOW_DEV_LOGIN", "LUMEN_KEY_PEPPER", "AUTH_SECRET"]) {
    if (!(opts.env && name in opts.env)) delete env[name];
  }
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Spawns the server without waiting for it. */
export function spawnServer(opts: ServerOptions): ChildProcess {
  const log = fs.openSync(opts.logFile, "a");
  return spawn(process.execPath, [path.join(process.cwd(), ".next/lumen-server.js"), "-p", String(opts.port), ...(opts.args ?? [])], {
    cwd: process.cwd(),
    env: environment(opts),
    stdio: ["ignore", log, log],
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));
}

/** Starts the server and waits until /healthz answers on `healthURL` (default http://127.0.0.1:port). */
export async function startServer(opts: ServerOptions & { healthURL?: string }): Promise<RunningServer> {
  const child = spawnServer(opts);
  const url = opts.healthURL ?? `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Lumen server exited (${child.exitCode}); see ${opts.logFile}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not become healthy; see ${opts.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    child,
    logFile: opts.logFile,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited(child);
    },
  };
}
