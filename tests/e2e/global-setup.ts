import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { freePort } from "../helpers/net";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "@/lib/db/client";
import { createServerDatabase } from "../helpers/db";
import { seedE2e } from "./fixtures";

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
    clientIds: Record<string, string>;
    /** A working API key of research-bot, for the /v1 tests. */
    apiKey: string;
    configFile: string;
  }
}

async function waitHealthy(url: string, child: ChildProcess, logFile: string) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Lumen server exited (${child.exitCode}); see ${logFile}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`server did not become healthy; see ${logFile}`);
}

/**
 * Seeds a fresh database (PGlite folder, or a new PostgreSQL database when E2E_DATABASE_URL is set),
 * then starts the built app (.next/lumen-server.js, as `npm start` does) against it. Requires `npm run build` first.
 */
export default async function setup(project: TestProject) {
  const root = process.cwd();
  if (!fs.existsSync(path.join(root, ".next", "BUILD_ID")) || !fs.existsSync(path.join(root, ".next", "lumen-server.js"))) throw new Error("Run `npm run build` before the e2e suite.");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-e2e-"));
  const configFile = path.join(tmp, "config.yaml");
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  // The shipped config with this server's public URL (sign-in redirects use it), plus a model that
  // needs consent (its text tries to inject markup).
  fs.writeFileSync(
    configFile,
    fs.readFileSync(path.join(root, "config.yaml"), "utf8").replace("base_url: http://localhost:3000", `base_url: ${baseURL}`) +
      `  - name: secure-llm
    access: allowed
    needs_ack: true
    ack_message: "**Read this.** Outputs may be logged. <script>window.__pwned = 1</script> [Policy](https://example.org/policy)"
    input_cost_per_million: 0.2
    output_cost_per_million: 0.2
    endpoints: [{url: "builtin:echo"}]
`,
  );
  const dataDir = path.join(tmp, "data");

  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const serverBase = process.env.E2E_DATABASE_URL?.trim();
  if (serverBase) {
    const created = await createServerDatabase(serverBase);
    databaseUrl = created.url;
    drop = created.drop;
  }
  // Seed before the server starts: a PGlite folder must never be open in two processes.
  const handle = await openDatabase(databaseUrl ? { url: databaseUrl } : { pgliteDir: path.join(dataDir, "pgdata") });
  const secret = "e2e-secret-e2e-secret-e2e-secret-0123456789";
  const { clientIds, apiKey } = await seedE2e(handle.db, secret);
  await handle.close();

  const logFile = path.join(tmp, "server.log");
  const log = fs.openSync(logFile, "a");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LUMEN_CONFIG: configFile,
    LUMEN_DATA_DIR: dataDir,
    LUMEN_SECRET: secret,
    PORT: String(port),
  };
  delete env.DATABASE_URL;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const child = spawn(process.execPath, [path.join(root, ".next/lumen-server.js"), "-p", String(port), "-H", "127.0.0.1"], {
    cwd: root,
    env,
    stdio: ["ignore", log, log],
  });
  await waitHealthy(baseURL, child, logFile);
  console.log(`e2e: server at ${baseURL} on ${databaseUrl ? "PostgreSQL" : "PGlite"} (log ${logFile})`);

  project.provide("baseURL", baseURL);
  project.provide("clientIds", clientIds);
  project.provide("apiKey", apiKey);
  project.provide("configFile", configFile);

  return async () => {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    if (drop) await drop();
    if (!process.env.E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  };
}
