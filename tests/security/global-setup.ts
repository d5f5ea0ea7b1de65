/**
 * Starts the production server for the security suite: a fresh PostgreSQL database (made and dropped
 * here), a temporary config (development sign-in on loopback, metrics behind a token, a model that
 * needs consent), the five actors' users, two clients with a manager and an API key each.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "@/lib/db/client";
import { createServerDatabase } from "../helpers/db";
import { freePort } from "../helpers/net";
import { seedSecurity, type SecuritySeed } from "./seed";
import { startServer, type RunningServer } from "./server";

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
    databaseUrl: string;
    configFile: string;
    dataDir: string;
    logFile: string;
    seed: SecuritySeed;
  }
}

export function securityDatabaseBase(): string {
  const base = process.env.SECURITY_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!base) {
    throw new Error(
      "The security suite runs on PostgreSQL: set SECURITY_DATABASE_URL (or TEST_DATABASE_URL), e.g. postgres://postgres@127.0.0.1:5432/test",
    );
  }
  return base;
}

export function securityConfig(baseURL: string): string {
  return `app:
  name: Lumen
  base_url: ${baseURL}
auth:
  dev_login: true
admins: [admin@example.com]
metrics:
  enabled: true
  token: metrics-token-for-the-security-suite
clients:
  default:
    max: 1000
    refresh: 0
    starting: 1000
    model_access: {default: allowed}
models:
  - name: echo
    input_cost_per_million: 0.5
    output_cost_per_million: 1.0
    endpoints: [{url: "builtin:echo"}]
  - name: secure-llm
    needs_ack: true
    ack_message: "Outputs may be logged."
    endpoints: [{url: "builtin:echo"}]
`;
}

export default async function setup(project: TestProject) {
  const root = process.cwd();
  if (!fs.existsSync(path.join(root, ".next", "BUILD_ID")) || !fs.existsSync(path.join(root, ".next", "lumen-server.js"))) {
    throw new Error("Run `npm run build` before the security suite.");
  }
  const database = await createServerDatabase(securityDatabaseBase());
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-security-"));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const configFile = path.join(tmp, "config.yaml");
  fs.writeFileSync(configFile, securityConfig(baseURL));

  const handle = await openDatabase({ url: database.url });
  const seed = await seedSecurity(handle.db);
  await handle.close();

  const dataDir = path.join(tmp, "data");
  let server: RunningServer | undefined;
  try {
    server = await startServer({ port, configFile, dataDir, databaseUrl: database.url, logFile: path.join(tmp, "server.log") });
  } catch (err) {
    await database.drop();
    throw err;
  }
  console.log(`security: server at ${baseURL} on PostgreSQL (log ${server.logFile})`);

  project.provide("baseURL", baseURL);
  project.provide("databaseUrl", database.url);
  project.provide("configFile", configFile);
  project.provide("dataDir", dataDir);
  project.provide("logFile", server.logFile);
  project.provide("seed", seed);

  return async () => {
    await server?.stop();
    await database.drop();
    if (!process.env.SECURITY_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  };
}
