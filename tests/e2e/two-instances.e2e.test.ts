import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { freePort } from "../helpers/net";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@/lib/db/client";
import { eq } from "drizzle-orm";
import { apiKeys, clients } from "@/lib/db/schema";
import { upsertUser } from "@/lib/auth/users";
import { rotateApiKey } from "@/lib/keys/commands";
import { generateApiKey } from "@/lib/keys/api-key";
import { createServerDatabase } from "../helpers/db";

// Two Lumen servers share one PostgreSQL database (the pool and the counters must stay exact) and one
// Redis (REDIS_URL, default 127.0.0.1:6379: rate limits are counted across both).
const base = process.env.E2E_DATABASE_URL?.trim();
const REDIS_URL = process.env.REDIS_URL?.trim() || "redis://127.0.0.1:6379";
const SECRET = "two-instances-secret-two-instances-secret";
// rotateApiKey below hashes the new secret with the servers' secret.
process.env.LUMEN_SECRET = SECRET;

describe.runIf(Boolean(base))("two instances on one PostgreSQL database", () => {
  const servers: ChildProcess[] = [];
  const urls: string[] = [];
  let db: { url: string; drop(): Promise<void> };
  let keyA = "";
  let keyB = "";
  let keyPaced = "";
  let tmp = "";

  beforeAll(async () => {
    db = await createServerDatabase(base!);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-two-"));
    const configFile = path.join(tmp, "config.yaml");
    fs.writeFileSync(
      configFile,
      `auth: {dev_login: true}
admins: [admin@example.com]
rate_limits: {storage_url: "${REDIS_URL}", key_prefix: lumen-e2e-${randomBytes(6).toString("hex")}}
clients:
  default: {max: 0}
  burst-bot: {max: 20, refresh: 0, starting: 20, model_access: {default: allowed}}
  paced-bot: {max: -2, rpm: 6, max_parallel: 1, model_access: {default: allowed}}
models:
  - name: slow
    endpoints: [{url: "builtin:echo", latency_ms: 500}]
  - name: pricey
    input_cost_per_million: 50000
    output_cost_per_million: 50000
    endpoints: [{url: "builtin:echo", latency_ms: 30}]
`,
    );
    const handle = await openDatabase({ url: db.url });
    const [client] = await handle.db.insert(clients).values({ name: "burst-bot" }).returning();
    const a = generateApiKey(SECRET);
    const b = generateApiKey(SECRET);
    await handle.db.insert(apiKeys).values([
      { clientId: client!.id, name: "a", keyHash: a.hash, hint: a.hint },
      { clientId: client!.id, name: "b", keyHash: b.hash, hint: b.hint },
    ]);
    keyA = a.plaintext;
    keyB = b.plaintext;
    const [paced] = await handle.db.insert(clients).values({ name: "paced-bot" }).returning();
    const p = generateApiKey(SECRET);
    await handle.db.insert(apiKeys).values({ clientId: paced!.id, name: "p", keyHash: p.hash, hint: p.hint });
    keyPaced = p.plaintext;
    await handle.close();
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const log = fs.openSync(path.join(tmp, `server-${i}.log`), "a");
      servers.push(
        spawn(process.execPath, [path.join(process.cwd(), ".next/lumen-server.js"), "-p", String(port), "-H", "127.0.0.1"], {
          env: { ...process.env, DATABASE_URL: db.url, LUMEN_CONFIG: configFile, LUMEN_DATA_DIR: path.join(tmp, `data-${i}`), LUMEN_SECRET: SECRET },
          stdio: ["ignore", log, log],
        }),
      );
      urls.push(`http://127.0.0.1:${port}`);
    }
    for (const url of urls) {
      const deadline = Date.now() + 90_000;
      for (;;) {
        if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
        if (Date.now() > deadline) throw new Error(`server ${url} did not start`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  });

  afterAll(async () => {
    for (const s of servers) s.kill("SIGTERM");
    await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once("exit", r)))));
    await db?.drop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("200 concurrent requests against a pool with room for about 20: exact accounting, bounded overrun", async () => {
    const call = (i: number) =>
      new OpenAI({ baseURL: `${urls[i % 2]}/v1`, apiKey: keyA, maxRetries: 0 }).chat.completions
        .create({ model: "pricey", max_tokens: 10, messages: [{ role: "user", content: `burst request number ${i}` }] })
        .then(
          (r) => ({ ok: true as const, usage: r.usage }),
          (e: { status?: number; code?: string }) => ({ ok: false as const, status: e.status, code: e.code }),
        );
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => call(i)));
    const ok = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    for (const r of refused) expect(r).toMatchObject({ status: 429, code: "insufficient_quota" });
    expect(ok.length).toBeGreaterThan(5);
    expect(ok.length).toBeLessThan(80);

    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      // The servers settle after answering (a few ms later): wait until every reservation is gone. The
      // balance is the real one: the pool's own plus what the instances' coin leases hold.
      const snapshot = () => sql`
        select
          (select count(*)::int from request_log) as log_requests,
          (select coalesce(sum(coins), 0)::text from request_log) as log_coins,
          (select requests::int from clients where name = 'burst-bot') as client_requests,
          (select coins_spent::text from clients where name = 'burst-bot') as client_coins,
          (select coalesce(sum(coins_spent), 0)::text from api_keys) as key_coins,
          (select coalesce(sum(coins_spent), 0)::text from client_model_usage) as model_coins,
          (select coalesce(sum(coins_spent), 0)::text from client_daily_usage) as daily_coins,
          (select (balance + leased)::text from coin_pools) as balance,
          (select count(*)::int from coin_reservations) as open_reservations,
          (select (20 - balance - leased)::text from coin_pools) as deducted,
          (select count(*)::int from coin_pools p where p.leased <> (select coalesce(sum(amount), 0) from coin_leases)) as lease_mismatch,
          (select max(coins)::text from request_log) as max_cost`;
      let [t] = await snapshot();
      for (let waited = 0; waited < 10_000 && (t!.open_reservations !== 0 || t!.log_requests !== ok.length); waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
        [t] = await snapshot();
      }
      expect(t!.log_requests).toBe(ok.length);
      expect(t!.client_requests).toBe(ok.length);
      expect(t!.client_coins).toBe(t!.log_coins);
      expect(t!.key_coins).toBe(t!.log_coins);
      expect(t!.model_coins).toBe(t!.log_coins);
      expect(t!.daily_coins).toBe(t!.log_coins);
      expect(Number(t!.deducted)).toBe(Number(t!.log_coins));
      expect(t!.deducted).toBe(Number(t!.log_coins).toFixed(6));
      expect(t!.open_reservations).toBe(0);
      expect(t!.lease_mismatch).toBe(0); // the real balance is balance + leased, leased = Σ coin_leases
      // overrun bounded by what requests in flight can exceed their reservations: at most one full cost each
      expect(Number(t!.balance)).toBeGreaterThan(-Number(t!.max_cost) * ok.length);
    } finally {
      await sql.end();
    }
  });

  it("rate limits are shared through Redis: rpm and max_parallel hold across both instances", async () => {
    const call = (i: number, model = "pricey") =>
      fetch(`${urls[i % 2]}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${keyPaced}`, "content-type": "application/json" },
        body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: "user", content: "paced" }] }),
      });
    // max_parallel 1: one slow request on each instance at once — one of them is refused.
    const [a, b] = await Promise.all([call(0, "slow"), new Promise((r) => setTimeout(r, 150)).then(() => call(1, "slow"))]);
    expect([a.status, b.status]).toEqual([200, 429]);
    expect(((await b.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
    // rpm 6 in all (one used above, the refused one gave its count back): five more, alternating instances.
    const statuses: number[] = [];
    const limits: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await call(i);
      statuses.push(res.status);
      limits.push(res.headers.get("x-ratelimit-remaining-requests") ?? "-");
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(limits.slice(0, 5)).toEqual(["4", "3", "2", "1", "0"]);
  });

  it("a key revoked during a burst is refused within 1 second on both instances", async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`update coin_pools set balance = 1000`;
      const use = (i: number) =>
        fetch(`${urls[i % 2]}/v1/models`, { headers: { authorization: `Bearer ${keyB}` } }).then((r) => r.status);
      expect(await Promise.all([use(0), use(1)])).toEqual([200, 200]);
      const burst = Promise.all(Array.from({ length: 40 }, (_, i) => use(i)));
      await sql`update api_keys set revoked_at = now() where name = 'b'`;
      await burst;
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await Promise.all([use(0), use(1), use(2), use(3)])).toEqual([401, 401, 401, 401]);
    } finally {
      await sql.end();
    }
  });

  it("a key rotated with no grace: both instances refuse its old secret within 1 second and take the new one", async () => {
    const handle = await openDatabase({ url: db.url });
    try {
      const admin = await upsertUser(handle.db, { email: "admin@example.com" });
      const [client] = await handle.db.select({ id: clients.id }).from(clients).where(eq(clients.name, "burst-bot"));
      const old = generateApiKey(SECRET);
      const [key] = await handle.db
        .insert(apiKeys)
        .values({ clientId: client!.id, name: "c", keyHash: old.hash, hint: old.hint })
        .returning({ id: apiKeys.id });
      const use = (secret: string, i: number) =>
        fetch(`${urls[i % 2]}/v1/models`, { headers: { authorization: `Bearer ${secret}` } }).then(async (r) => ({
          status: r.status,
          code: ((await r.json()) as { error?: { code?: string } }).error?.code ?? null,
        }));
      // both instances have the old secret cached now
      expect(await Promise.all([use(old.plaintext, 0), use(old.plaintext, 1)])).toEqual([
        { status: 200, code: null },
        { status: 200, code: null },
      ]);
      const rotated = await rotateApiKey(handle.db, { user: admin, isAdmin: true }, client!.id, key!.id, "now");
      await new Promise((r) => setTimeout(r, 1_000));
      const refused = { status: 401, code: "expired_api_key" };
      expect(await Promise.all([use(old.plaintext, 0), use(old.plaintext, 1)])).toEqual([refused, refused]);
      expect(await Promise.all([use(rotated.plaintext, 0), use(rotated.plaintext, 1)])).toEqual([
        { status: 200, code: null },
        { status: 200, code: null },
      ]);
    } finally {
      await handle.close();
    }
  });
});
