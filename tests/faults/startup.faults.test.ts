/**
 * (f) Start-up behind a listening socket (server.ts): the port is bound before the database is open
 * and migrated. While another instance holds the migration lock (the advisory lock openDatabase takes
 * on PostgreSQL), /v1 answers 503 service_unavailable with retry-after and forwards nothing upstream,
 * /healthz answers 503; once the lock is released the same process serves /v1 and /healthz 200. A
 * SIGTERM while start-up waits exits at once with code 0.
 */
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/net";
import { startRig, LumenServer, type Rig } from "./harness";

const MIGRATION_LOCK_ID = 727_274_001; // lib/db/client.ts
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("(f) start-up while the database is not ready", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
    await rig.server.stop("SIGTERM");
  });
  afterAll(async () => rig?.cleanup());

  /** Holds the migration lock on its own connection until `release()`. */
  async function holdMigrationLock() {
    const sql = postgres(rig.databaseUrl, { max: 1, onnotice: () => {} });
    const conn = await sql.reserve();
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    return async () => {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      conn.release();
      await sql.end({ timeout: 2 });
    };
  }

  const newServer = async () =>
    new LumenServer({ ...rig.server.opts, port: await freePort(), logFile: path.join(rig.tmp, `server-${Date.now()}.log`) });

  /** Polls `url` until something answers; its response. */
  async function firstAnswer(url: string, init?: RequestInit): Promise<Response> {
    for (let i = 0; i < 600; i++) {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) }).catch(() => null);
      if (res) return res;
      await sleep(50);
    }
    throw new Error(`nothing answered ${url}`);
  }

  it("answers /v1 with 503 service_unavailable (nothing forwarded) and /healthz 503 until the schema is ready, then serves", async () => {
    const release = await holdMigrationLock();
    const server = await newServer();
    rig.server = server;
    const starting = server.start(); // resolves at the first /healthz 200
    let released = false;
    try {
      const auth = { authorization: `Bearer ${rig.seeded.apiKey}` };
      const models = await firstAnswer(`${server.url}/v1/models`, { headers: auth });
      expect(models.status).toBe(503);
      expect(models.headers.get("retry-after")).toBe("1");
      const body = (await models.json()) as { error?: { code?: string; type?: string } };
      expect(body.error?.code).toBe("service_unavailable");

      const receivedBefore = rig.upstream.received();
      const chat = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ model: "ok", messages: [{ role: "user", content: "hi" }], max_tokens: 3 }),
      });
      expect(chat.status).toBe(503);
      expect(((await chat.json()) as { error?: { code?: string } }).error?.code).toBe("service_unavailable");
      expect(rig.upstream.received()).toBe(receivedBefore);

      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.headers.get("x-content-type-options")).toBe("nosniff");

      // Still waiting for the lock a moment later: nothing changed.
      await sleep(1_000);
      expect((await fetch(`${server.url}/v1/models`, { headers: auth })).status).toBe(503);

      await release();
      released = true;
      await starting;
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/models`, { headers: auth })).status).toBe(200);
      const answer = await rig.call({ model: "ok", maxTokens: 3 });
      expect(answer.status).toBe(200);
    } finally {
      if (!released) await release();
    }
    const exit = await server.stop("SIGTERM");
    expect(exit.code).toBe(0);
  });

  it("a SIGTERM while start-up waits for the database exits at once with code 0", async () => {
    const release = await holdMigrationLock();
    try {
      const server = await newServer();
      rig.server = server;
      void server.start().catch(() => {});
      expect((await firstAnswer(`${server.url}/healthz`)).status).toBe(503);
      const exit = await server.stop("SIGTERM", 10_000);
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(3_000);
    } finally {
      await release();
    }
  });
});
