/**
 * Key expiry and rotation with a grace period (issue 11, items 1, 2 and 6): the commands, the gateway's
 * authentication against a controllable clock (edges to the millisecond, cached or not), two instances'
 * caches, and who may rotate or end a grace.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Db, Executor } from "@/lib/db/client";
import { apiKeyRetiredSecrets, apiKeys } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import { parseConfigText } from "@/lib/config/load";
import { createApiKey, endKeyGrace, revokeApiKey, rotateApiKey } from "@/lib/keys/commands";
import { DAY_MS } from "@/lib/keys/expiry";
import { countApiKeys, findKeyByHash, listApiKeys } from "@/lib/keys/queries";
import { hashApiKey } from "@/lib/keys/api-key";
import { authenticate, KeyCache } from "@/lib/gateway/auth";
import { isGatewayError, type GatewayError } from "@/lib/gateway/errors";
import { createGateway } from "@/lib/gateway/pipeline";
import { processState } from "@/lib/process-state";
import type { GatewayRequest } from "@/lib/gateway/request";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";
import { insertKey, keysOf } from "../helpers/keys";

process.env.LUMEN_SECRET = "key-lifecycle-secret-0123456789-abcdefgh";

const HOUR = 3_600_000;
const MISSING_ID = "00000000-0000-4000-8000-000000000000";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bearer(token: string): GatewayRequest {
  return {
    url: "http://lumen.test/v1/models",
    header: (name) => (name.toLowerCase() === "authorization" ? `Bearer ${token}` : null),
    signal: new AbortController().signal,
    readBody: async () => new Uint8Array(0),
    streamBody: async () => "ended",
  };
}

/** The gateway error authenticate throws at instant `at` (or null when it lets the caller through). */
async function refusalAt(ex: Executor, token: string, at: number, cache?: KeyCache): Promise<GatewayError | null> {
  try {
    await authenticate(ex, bearer(token), cache, () => at);
    return null;
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
}

const utc = (at: Date) => `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;

describe.each(backends())("key expiry and rotation on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let { admin, manager, otherManager, plain } = {} as Roles;
  let clientA: string;
  let clientB: string;

  beforeAll(async () => {
    clientA = (await insertClient(db, "client-a")).id;
    clientB = (await insertClient(db, "client-b")).id;
    ({ admin, manager, otherManager, plain } = await setUpRoles(db, { manages: [clientA, clientB] }));
  });

  const snapshot = async () =>
    JSON.stringify([await keysOf(db, clientA), await keysOf(db, clientB), await db.select().from(apiKeyRetiredSecrets).orderBy(apiKeyRetiredSecrets.id)]);

  describe("expiry", () => {
    it("a key works until its expiry instant, then answers 401 expired_api_key giving the date", async () => {
      const now = new Date();
      const key = await createApiKey(db, manager, clientA, "thirty-days", { expiry: "30" }, { now, maxLifetimeDays: null });
      const expiresAt = new Date(+now + 30 * DAY_MS);
      expect(key.expiresAt).toEqual(expiresAt);
      expect((await findKeyByHash(db, hashApiKey(key.plaintext)))?.expiresAt).toEqual(expiresAt);

      expect(await refusalAt(db, key.plaintext, +expiresAt - 1)).toBeNull();
      const err = await refusalAt(db, key.plaintext, +expiresAt);
      expect(err).toMatchObject({ status: 401, type: "invalid_request_error", code: "expired_api_key" });
      expect(err?.message).toContain(utc(expiresAt));
      expect(await refusalAt(db, key.plaintext, +expiresAt + 365 * DAY_MS)).toMatchObject({ code: "expired_api_key" });
    });

    it("a cached record carries the expiry: it stops at the instant without asking the database", async () => {
      const now = new Date();
      const key = await createApiKey(db, admin, clientA, "cached", { expiry: "30" }, { now, maxLifetimeDays: null });
      const expiresAt = +now + 30 * DAY_MS;
      const cache = new KeyCache(60_000);
      expect(await refusalAt(db, key.plaintext, expiresAt - 10, cache)).toBeNull();
      const noDatabase = new Proxy({}, { get: () => { throw new Error("the database was asked"); } }) as Executor;
      expect(await refusalAt(noDatabase, key.plaintext, expiresAt - 1, cache)).toBeNull();
      expect(await refusalAt(noDatabase, key.plaintext, expiresAt, cache)).toMatchObject({ code: "expired_api_key" });
    });

    it("a date choice, the configured cap (for admins too), and field errors next to each field", async () => {
      const now = new Date("2031-05-01T12:00:00Z");
      const onDate = await createApiKey(db, admin, clientA, "dated", { expiry: "date", expiresOn: "2031-05-20", tzOffset: "-120" }, { now, maxLifetimeDays: 90 });
      expect(onDate.expiresAt).toEqual(new Date("2031-05-20T22:00:00Z"));

      const before = await snapshot();
      for (const who of [admin, manager]) {
        await expect(createApiKey(db, who, clientA, "forever", { expiry: "never" }, { now, maxLifetimeDays: 90 })).rejects.toMatchObject({
          code: "invalid",
          fieldErrors: { expiry: [expect.stringContaining("within 90 days")] },
        });
        await expect(createApiKey(db, who, clientA, "long", { expiry: "365" }, { now, maxLifetimeDays: 90 })).rejects.toMatchObject({
          fieldErrors: { expiry: [expect.stringContaining("at most 90 days")] },
        });
      }
      // both fields wrong: both messages at once
      await expect(
        createApiKey(db, manager, clientA, "", { expiry: "date", expiresOn: "2030-01-01", tzOffset: "0" }, { now, maxLifetimeDays: null }),
      ).rejects.toMatchObject({ fieldErrors: { name: ["Enter a name."], expiresOn: [expect.stringContaining("or a later date")] } });
      expect(await snapshot()).toBe(before);
    });

    it("expired keys are hidden with revoked ones, counted apart, and free their name", async () => {
      const clientC = (await insertClient(db, "client-expiry-list")).id;
      const longAgo = new Date(Date.now() - 31 * DAY_MS);
      await createApiKey(db, admin, clientC, "production", { expiry: "30" }, { now: longAgo, maxLifetimeDays: null });
      const revoked = await createApiKey(db, admin, clientC, "old-ci", {}, { maxLifetimeDays: null });
      await revokeApiKey(db, admin, clientC, revoked.id);
      await createApiKey(db, admin, clientC, "staging", { expiry: "90" }, { maxLifetimeDays: null });
      expect(await countApiKeys(db, clientC)).toEqual({ active: 1, revoked: 1, expired: 1 });
      expect((await listApiKeys(db, clientC)).map((k) => k.name)).toEqual(["staging"]);
      expect((await listApiKeys(db, clientC, { showInactive: true })).map((k) => k.name).sort()).toEqual(["old-ci", "production", "staging"]);
      // the expired key's name is free again
      const again = await createApiKey(db, admin, clientC, "production", {}, { maxLifetimeDays: null });
      expect(again.expiresAt).toBeNull();
    });
  });

  describe("rotation", () => {
    it("keeps the id, name, expiry and counters; the old secret works until the grace ends, then 401 with the date", async () => {
      const { row, plaintext: old } = await insertKey(db, clientA, "rotate-me", { requests: 7, input: 70, output: 30, coins: "1.500000" });
      const T = new Date();
      const rotated = await rotateApiKey(db, manager, clientA, row.id, "1h", { now: T });
      expect(rotated).toMatchObject({ id: row.id, name: "rotate-me", oldHint: row.hint, oldValidUntil: new Date(+T + HOUR) });
      expect(rotated.plaintext).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
      expect(rotated.hint).not.toBe(row.hint);

      const [after] = await db.select().from(apiKeys).where(eq(apiKeys.id, row.id));
      expect(after).toMatchObject({
        id: row.id,
        name: "rotate-me",
        requests: 7,
        inputTokens: 70,
        outputTokens: 30,
        coinsSpent: "1.500000",
        hint: rotated.hint,
        keyHash: hashApiKey(rotated.plaintext),
        rotatedAt: T,
        rotatedBy: manager.user.id,
        createdAt: row.createdAt,
        expiresAt: null,
      });

      // during the grace both secrets are the same key
      for (const secret of [old, rotated.plaintext]) {
        const caller = await authenticate(db, bearer(secret), undefined, () => +T + HOUR - 1);
        expect(caller).toEqual({ keyId: row.id, clientId: clientA, clientName: "client-a" });
      }
      const err = await refusalAt(db, old, +T + HOUR);
      expect(err).toMatchObject({ status: 401, code: "expired_api_key" });
      expect(err?.message).toContain(utc(new Date(+T + HOUR)));
      expect(await refusalAt(db, rotated.plaintext, +T + HOUR)).toBeNull();
      expect(await refusalAt(db, rotated.plaintext, +T + 1000 * DAY_MS)).toBeNull();

      // both hints are listed during the grace, only the new one after
      const listed = (await listApiKeys(db, clientA, { q: "rotate-me" }))[0];
      expect(listed?.hint).toBe(rotated.hint);
      expect(listed?.graceSecrets).toEqual([{ hint: row.hint, validUntil: new Date(+T + HOUR) }]);
    });

    it("Immediately: the old secret stops at the rotation instant", async () => {
      const { row, plaintext: old } = await insertKey(db, clientA, "rotate-now");
      const T = new Date();
      const rotated = await rotateApiKey(db, admin, clientA, row.id, "now", { now: T });
      expect(rotated.oldValidUntil).toEqual(T);
      expect(await refusalAt(db, old, +T - 1)).toBeNull();
      expect(await refusalAt(db, old, +T)).toMatchObject({ code: "expired_api_key" });
      expect(await refusalAt(db, rotated.plaintext, +T)).toBeNull();
      expect((await listApiKeys(db, clientA, { q: "rotate-now" }))[0]?.graceSecrets).toEqual([]);
    });

    it("rotating twice: each old secret keeps its own grace", async () => {
      const { row, plaintext: first } = await insertKey(db, clientA, "twice");
      const T = new Date();
      const r1 = await rotateApiKey(db, manager, clientA, row.id, "7d", { now: T });
      const r2 = await rotateApiKey(db, manager, clientA, row.id, "1h", { now: new Date(+T + 1000) });
      expect(await refusalAt(db, first, +T + 7 * DAY_MS - 1)).toBeNull();
      expect(await refusalAt(db, first, +T + 7 * DAY_MS)).toMatchObject({ code: "expired_api_key" });
      expect(await refusalAt(db, r1.plaintext, +T + 1000 + HOUR - 1)).toBeNull();
      expect(await refusalAt(db, r1.plaintext, +T + 1000 + HOUR)).toMatchObject({ code: "expired_api_key" });
      expect(await refusalAt(db, r2.plaintext, +T + 8 * DAY_MS)).toBeNull();
    });

    it("the key's expiry and revocation apply to its old secrets too", async () => {
      const now = new Date();
      const key = await createApiKey(db, admin, clientA, "short-and-rotated", { expiry: "30" }, { now, maxLifetimeDays: null });
      const rotated = await rotateApiKey(db, admin, clientA, key.id, "7d", { now });
      expect(rotated.expiresAt).toEqual(key.expiresAt);
      // the grace outlasts nothing: at the key's expiry both secrets stop
      expect(await refusalAt(db, key.plaintext, +now + 30 * DAY_MS)).toMatchObject({ code: "expired_api_key" });
      await revokeApiKey(db, admin, clientA, key.id);
      expect(await refusalAt(db, key.plaintext, +now + 1)).toMatchObject({ code: "invalid_api_key" });
      expect(await refusalAt(db, rotated.plaintext, +now + 1)).toMatchObject({ code: "invalid_api_key" });
    });

    it("End grace now stops the old secrets at once and records nothing when there is none", async () => {
      const { row, plaintext: old } = await insertKey(db, clientA, "end-grace");
      const T = new Date();
      const rotated = await rotateApiKey(db, manager, clientA, row.id, "24h", { now: T });
      const E = new Date(+T + 5 * 60_000);
      expect(await endKeyGrace(db, manager, clientA, row.id, { now: E })).toEqual({ ended: 1 });
      expect(await refusalAt(db, old, +E - 1)).toBeNull();
      expect(await refusalAt(db, old, +E)).toMatchObject({ code: "expired_api_key" });
      expect(await refusalAt(db, rotated.plaintext, +E)).toBeNull();
      expect(await endKeyGrace(db, manager, clientA, row.id, { now: E })).toEqual({ ended: 0 });
    });

    it("refuses revoked and expired keys and an unknown grace, changing nothing", async () => {
      const { row: revoked } = await insertKey(db, clientA, "gone", { revokedAt: new Date() });
      const longAgo = new Date(Date.now() - 40 * DAY_MS);
      const expired = await createApiKey(db, admin, clientA, "expired", { expiry: "30" }, { now: longAgo, maxLifetimeDays: null });
      const { row: fine } = await insertKey(db, clientA, "fine");
      const before = await snapshot();
      await expect(rotateApiKey(db, manager, clientA, revoked.id, "1h")).rejects.toMatchObject({ code: "invalid", message: expect.stringContaining("revoked") });
      await expect(rotateApiKey(db, manager, clientA, expired.id, "1h")).rejects.toMatchObject({ code: "invalid", message: expect.stringContaining("expired") });
      for (const grace of ["", "2h", undefined, null, 3600]) {
        await expect(rotateApiKey(db, manager, clientA, fine.id, grace)).rejects.toMatchObject({ code: "invalid", fieldErrors: { grace: [expect.any(String)] } });
      }
      expect(await snapshot()).toBe(before);
    });
  });

  describe("who may rotate and end a grace", () => {
    it("admins and the client's managers; nobody else, with any ids; nothing changes when refused", async () => {
      const { row: keyA } = await insertKey(db, clientA, "matrix-a");
      const { row: keyB } = await insertKey(db, clientB, "matrix-b");
      expect((await rotateApiKey(db, admin, clientA, keyA.id, "1h")).id).toBe(keyA.id);
      expect((await rotateApiKey(db, manager, clientA, keyA.id, "1h")).id).toBe(keyA.id);
      expect((await endKeyGrace(db, admin, clientA, keyA.id)).ended).toBe(2);

      const before = await snapshot();
      for (const run of [
        (v: Viewer | null, c: string, k: string) => rotateApiKey(db, v, c, k, "1h"),
        (v: Viewer | null, c: string, k: string) => endKeyGrace(db, v, c, k),
      ]) {
        for (const v of [otherManager, plain, null]) await expect(run(v, clientA, keyA.id)).rejects.toMatchObject({ code: "forbidden" });
        // a manager cannot tell a missing client from someone else's
        await expect(run(manager, MISSING_ID, keyA.id)).rejects.toMatchObject({ code: "forbidden" });
        // another client's key under one's own client: not found, never revealed
        await expect(run(manager, clientA, keyB.id)).rejects.toMatchObject({ code: "not_found" });
        await expect(run(otherManager, clientB, keyA.id)).rejects.toMatchObject({ code: "not_found" });
        await expect(run(admin, clientB, keyA.id)).rejects.toMatchObject({ code: "not_found" });
        await expect(run(manager, clientA, MISSING_ID)).rejects.toMatchObject({ code: "not_found" });
        await expect(run(manager, clientA, "'; drop table api_keys; --")).rejects.toMatchObject({ code: "not_found" });
        await expect(run(admin, "not-a-uuid", keyA.id)).rejects.toMatchObject({ code: "not_found" });
      }
      expect(await snapshot()).toBe(before);
    });
  });

  describe("instances agree within a second", () => {
    it("an old secret rotated Immediately is refused by two caching instances within 1 s", async () => {
      const { row, plaintext: old } = await insertKey(db, clientA, "two-instances");
      const one = new KeyCache();
      const two = new KeyCache();
      for (const cache of [one, two]) await authenticate(db, bearer(old), cache);
      const rotated = await rotateApiKey(db, manager, clientA, row.id, "now");
      await sleep(1000);
      for (const cache of [one, two]) {
        await expect(authenticate(db, bearer(old), cache)).rejects.toMatchObject({ code: "expired_api_key" });
        await expect(authenticate(db, bearer(rotated.plaintext), cache)).resolves.toMatchObject({ keyId: row.id });
      }
    });
  });

  describe("this process's cache", () => {
    it("rotation, end of grace and revocation here drop the cached secrets at once (no 500 ms wait)", async () => {
      const config = parseConfigText(`models: [{name: echo, endpoints: [{url: "builtin:echo"}]}]\n`, "test.yaml").config;
      // A cache that would otherwise keep a record for a minute: only the forgets can explain a refusal.
      const gw = createGateway({ getDb: async () => db, getConfig: () => config, keyCache: new KeyCache(60_000) });
      const state = processState();
      const previous = state.gateway;
      state.gateway = gw;
      const status = async (secret: string) =>
        (await gw.listModels(new Request("http://lumen.test/v1/models", { headers: { authorization: `Bearer ${secret}` } }))).status;
      try {
        const { row, plaintext: first } = await insertKey(db, clientA, "cached-here");
        expect(await status(first)).toBe(200);
        const r1 = await rotateApiKey(db, manager, clientA, row.id, "now");
        expect(await status(first)).toBe(401);
        expect(await status(r1.plaintext)).toBe(200);

        const r2 = await rotateApiKey(db, manager, clientA, row.id, "7d");
        expect(await status(r1.plaintext)).toBe(200); // in its grace, cached as an old secret now
        await endKeyGrace(db, manager, clientA, row.id);
        expect(await status(r1.plaintext)).toBe(401);

        const r3 = await rotateApiKey(db, manager, clientA, row.id, "7d");
        for (const secret of [r2.plaintext, r3.plaintext]) expect(await status(secret)).toBe(200);
        await revokeApiKey(db, manager, clientA, row.id);
        for (const secret of [r2.plaintext, r3.plaintext]) expect(await status(secret)).toBe(401);
      } finally {
        state.gateway = previous;
        gw.close();
      }
    });
  });

  describe("through the gateway", () => {
    it("answers expired_api_key in OpenAI's envelope, before any other check", async () => {
      const config = parseConfigText(`models: [{name: echo, endpoints: [{url: "builtin:echo"}]}]\n`, "test.yaml").config;
      const gw = createGateway({ getDb: async () => db, getConfig: () => config, keyCache: null });
      try {
        const longAgo = new Date(Date.now() - 31 * DAY_MS);
        const key = await createApiKey(db, admin, clientA, "via-gateway", { expiry: "30" }, { now: longAgo, maxLifetimeDays: null });
        const res = await gw.listModels(new Request("http://lumen.test/v1/models", { headers: { authorization: `Bearer ${key.plaintext}` } }));
        expect(res.status).toBe(401);
        const body = (await res.json()) as { error: Record<string, unknown> };
        expect(body.error).toEqual({
          message: `This API key expired on ${utc(key.expiresAt!)}. Ask a manager of the client for a new key.`,
          type: "invalid_request_error",
          param: null,
          code: "expired_api_key",
        });
        const post = await gw.chatCompletions(
          new Request("http://lumen.test/v1/chat/completions", { method: "POST", headers: { authorization: `Bearer ${key.plaintext}` }, body: "{not json" }),
        );
        expect(post.status).toBe(401);
      } finally {
        gw.close();
      }
    });
  });
});
