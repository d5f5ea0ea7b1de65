/**
 * The single sign-on suite's world: a fresh PostgreSQL database, the OpenID provider
 * (tests/sso/provider.ts), production Lumen servers (the build, started as tests/security does) with
 * development sign-in off, a reverse proxy for the "behind a proxy" case, and Chromium.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { openDatabase } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { upsertUser } from "@/lib/auth/users";
import { addManager } from "@/lib/clients/managers";
import { createServerDatabase } from "../helpers/db";
import { startServer, type RunningServer } from "../security/server";
import { CLIENT_ID, CLIENT_SECRET, PROVIDER_NAME } from "./provider";

/** Where the round trip's screenshots go (not committed). */
export const SHOTS = process.env.SSO_SHOTS_DIR || path.join(os.tmpdir(), "lumen-sso-shots");
/** The proxy case's public host name; Chromium resolves it to 127.0.0.1. */
export const PUBLIC_HOST = "lumen.example.test";

export function ssoDatabaseBase(): string {
  const base = process.env.SSO_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  if (!base) {
    throw new Error("The single sign-on suite runs on PostgreSQL: set SSO_DATABASE_URL (or TEST_DATABASE_URL), e.g. postgres://postgres@127.0.0.1:5432/test");
  }
  return base;
}

export function assertBuilt() {
  const root = process.cwd();
  if (!fs.existsSync(path.join(root, ".next", "BUILD_ID")) || !fs.existsSync(path.join(root, ".next", "lumen-server.js"))) {
    throw new Error("Run `npm run build` before the single sign-on suite.");
  }
}

export interface Seed {
  /** The client Max manages. */
  clientId: string;
}

/** A fresh database with the client Max manages (his user exists before his first sign-in, as an admin's seed makes it). */
export async function createDatabase(): Promise<{ url: string; seed: Seed; drop(): Promise<void> }> {
  const database = await createServerDatabase(ssoDatabaseBase());
  const handle = await openDatabase({ url: database.url });
  try {
    const boss = await upsertUser(handle.db, { email: "boss@example.org", name: "Boss" });
    const max = await upsertUser(handle.db, { email: "max@example.org", name: "Max" });
    const [client] = await handle.db.insert(clients).values({ name: "physics-bot" }).returning({ id: clients.id });
    await addManager(handle.db, { user: { id: boss.id, email: boss.email, name: boss.name }, isAdmin: true }, client!.id, max.id);
    return { url: database.url, seed: { clientId: client!.id }, drop: database.drop };
  } finally {
    await handle.close();
  }
}

export interface LumenOptions {
  port: number;
  baseURL: string;
  issuer: string;
  databaseUrl: string;
  clientSecret?: string;
  trustProxy?: boolean;
}

export function lumenConfig(o: LumenOptions): string {
  return `app:
  name: Lumen
  base_url: ${o.baseURL}
  trust_proxy: ${o.trustProxy ? "true" : "false"}
auth:
  dev_login: false
  oidc:
    issuer: ${o.issuer}
    client_id: ${CLIENT_ID}
    client_secret: ${o.clientSecret ?? CLIENT_SECRET}
    name: ${PROVIDER_NAME}
    scope: openid email profile groups
    groups_claim: groups
    admin_groups: [lumen-admins]
    allowed_domains: [example.org]
admins: [boss@example.org, root@example.org]
models:
  - name: echo
    endpoints: [{url: "builtin:echo"}]
`;
}

export interface Lumen extends RunningServer {
  baseURL: string;
  configFile: string;
  /** The server's log so far. */
  log(): string;
}

export async function startLumen(o: LumenOptions): Promise<Lumen> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-sso-"));
  const configFile = path.join(tmp, "config.yaml");
  fs.writeFileSync(configFile, lumenConfig(o));
  const logFile = path.join(tmp, "server.log");
  const server = await startServer({
    port: o.port,
    configFile,
    dataDir: path.join(tmp, "data"),
    databaseUrl: o.databaseUrl,
    logFile,
    args: ["-H", "127.0.0.1"],
    env: { AUTH_OIDC_CLIENT_SECRET: undefined },
  });
  return {
    ...server,
    baseURL: o.baseURL,
    configFile,
    log: () => fs.readFileSync(logFile, "utf8"),
    async stop() {
      const code = await server.stop();
      if (!process.env.SSO_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * A reverse proxy as deployments have one (without TLS here): the browser talks to it on
 * `PUBLIC_HOST:port`, it passes requests to Lumen with X-Forwarded-Host/-Proto/-For.
 */
export async function reverseProxy(
  targetPort: number,
  /** Answers a request itself instead of passing it on (returns true when it did). */
  intercept?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (intercept?.(req, res)) return;
    const headers = { ...req.headers };
    headers["x-forwarded-host"] = req.headers.host;
    headers["x-forwarded-proto"] = "http";
    headers["x-forwarded-for"] = req.socket.remoteAddress ?? "127.0.0.1";
    const upstream = http.request({ host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      res.writeHead(502).end("bad gateway");
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Waits for every start (so afterAll can stop what did start), then fails with the first failure. */
export async function settled(starts: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", `--host-resolver-rules=MAP ${PUBLIC_HOST} 127.0.0.1`],
  });
}

/** Chromium for one suite: every page in a context of its own (its own cookies), all closed together. */
export interface SuiteBrowser {
  newPage(baseURL: string): Promise<Page>;
  close(): Promise<void>;
}

export async function suiteBrowser(): Promise<SuiteBrowser> {
  const browser = await launchBrowser();
  const contexts: BrowserContext[] = [];
  return {
    async newPage(baseURL) {
      const context = await browser.newContext({ baseURL, viewport: { width: 1100, height: 800 }, locale: "en-US" });
      contexts.push(context);
      return context.newPage();
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
    },
  };
}

export async function shot(page: Page, name: string) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * The provider's side of a sign-in: its login page (any password; the login is the account), then
 * its consent page. `shots`: a name prefix to photograph both.
 */
export async function loginAtProvider(page: Page, issuer: string, account: string, shots?: string) {
  await page.waitForURL((u) => u.origin === issuer);
  await page.locator("input[name=login]").fill(account);
  await page.locator("input[name=password]").fill("any-password");
  if (shots) await shot(page, `${shots}-2-provider-login`);
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).waitFor();
  if (shots) await shot(page, `${shots}-3-provider-consent`);
  await page.getByRole("button", { name: "Continue" }).click();
}
