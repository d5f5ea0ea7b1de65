import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { DomainError } from "@/lib/errors";
import { createApiKey, revokeApiKey } from "@/lib/keys/commands";
import { countApiKeys, findKeyByHash, listApiKeys } from "@/lib/keys/queries";
import { hashApiKey } from "@/lib/keys/api-key";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";
import { apiKeysAsText, insertKey, keysOf } from "../helpers/keys";

// The HMAC secret; read lazily by serverSecret(), so setting it here (after the imports) is in time.
process.env.LUMEN_SECRET = "integration-test-secret-0123456789-abcdef";

const day = (n: number) => new Date(Date.UTC(2026, 0, n));
const MISSING_ID = "00000000-0000-4000-8000-000000000000";

describe.each(backends())("API keys on $name", (backend) => {
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

  const snapshot = async () => JSON.stringify(await keysOf(db, clientA)) + JSON.stringify(await keysOf(db, clientB));

  describe("createApiKey", () => {
    it("admins and managers of the client may create keys", async () => {
      const byAdmin = await createApiKey(db, admin, clientA, "admin-made");
      const byManager = await createApiKey(db, manager, clientA, "  Jane's laptop  ");
      expect(byManager.name).toBe("Jane's laptop");
      expect(byManager.plaintext).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
      expect(byManager.hint).toBe(`sk_${byManager.plaintext.slice(3, 7)}…${byManager.plaintext.slice(-4)}`);
      const stored = await keysOf(db, clientA);
      const row = stored.find((k) => k.id === byManager.id);
      expect(row).toMatchObject({ name: "Jane's laptop", hint: byManager.hint, createdBy: manager.user.id, revokedAt: null });
      expect(row?.keyHash).toBe(hashApiKey(byManager.plaintext));
      expect(stored.find((k) => k.id === byAdmin.id)?.createdBy).toBe(admin.user.id);
    });

    it("everyone else is refused and nothing changes", async () => {
      const before = await snapshot();
      for (const v of [otherManager, plain, null]) {
        await expect(createApiKey(db, v, clientA, "sneaky")).rejects.toMatchObject({ code: "forbidden" });
        // the permission answer comes first: an invalid name does not reveal anything either
        await expect(createApiKey(db, v, clientA, "")).rejects.toMatchObject({ code: "forbidden" });
      }
      await expect(createApiKey(db, manager, clientB, "sneaky")).rejects.toMatchObject({ code: "forbidden" });
      // a manager cannot tell a missing client from someone else's
      await expect(createApiKey(db, manager, MISSING_ID, "x")).rejects.toMatchObject({ code: "forbidden" });
      expect(await snapshot()).toBe(before);
    });

    it("unknown or malformed client ids are not found", async () => {
      await expect(createApiKey(db, admin, MISSING_ID, "x")).rejects.toMatchObject({ code: "not_found" });
      await expect(createApiKey(db, admin, "not-a-uuid", "x")).rejects.toMatchObject({ code: "not_found" });
      await expect(createApiKey(db, manager, "'; drop table api_keys; --", "x")).rejects.toMatchObject({ code: "not_found" });
    });

    it.each([
      ["", "Enter a name."],
      ["  ", "Enter a name."],
      ["k".repeat(65), "at most 64"],
      ["two\nlines", "printable"],
      [undefined, "Enter a name."],
    ])("refuses the name %j with a field error", async (name, message) => {
      const before = await snapshot();
      const err = await createApiKey(db, manager, clientA, name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe("invalid");
      expect((err as DomainError).fieldErrors?.name?.join(" ")).toContain(message);
      expect(await snapshot()).toBe(before);
    });

    it("refuses a duplicate among active keys (ignoring case), allows it once the first is revoked or elsewhere", async () => {
      const first = await createApiKey(db, manager, clientA, "production");
      await expect(createApiKey(db, manager, clientA, "PRODUCTION ")).rejects.toMatchObject({
        code: "invalid",
        fieldErrors: { name: [expect.stringContaining("already exists")] },
      });
      await createApiKey(db, otherManager, clientB, "production");
      await revokeApiKey(db, manager, clientA, first.id);
      const second = await createApiKey(db, manager, clientA, "production");
      expect(second.id).not.toBe(first.id);
    });

    it("concurrent creations of one name: exactly one wins", async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => createApiKey(db, i % 2 ? admin : manager, clientA, i % 2 ? "race" : "RACE")),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "invalid" });
    });

    it("the plaintext is stored nowhere in api_keys", async () => {
      const made = await Promise.all([
        createApiKey(db, manager, clientA, "secret-check-1"),
        createApiKey(db, admin, clientB, "secret-check-2"),
      ]);
      const dump = await apiKeysAsText(db);
      expect(dump).toContain(made[0].hint);
      for (const key of made) {
        expect(dump).not.toContain(key.plaintext);
        expect(dump).not.toContain(key.plaintext.slice(3));
        // nor any 12-character window of the secret part beyond what the hint shows
        for (let i = 4; i + 12 <= 39; i += 6) expect(dump).not.toContain(key.plaintext.slice(3 + i, 3 + i + 12));
      }
    });
  });

  describe("revokeApiKey", () => {
    it("managers of the client revoke; counters are kept; twice is a no-op", async () => {
      const { row } = await insertKey(db, clientA, "to-revoke", { requests: 3, input: 30, output: 12, coins: "0.420000" });
      const first = await revokeApiKey(db, manager, clientA, row.id);
      expect(first.revoked).toBe(true);
      const [after] = await db.select().from(apiKeys).where(eq(apiKeys.id, row.id));
      expect(after).toMatchObject({ revokedBy: manager.user.id, requests: 3, inputTokens: 30, outputTokens: 12, coinsSpent: "0.420000" });
      expect(after?.revokedAt).toEqual(first.revokedAt);

      const again = await revokeApiKey(db, admin, clientA, row.id);
      expect(again).toEqual({ revoked: false, revokedAt: first.revokedAt });
      const [still] = await db.select().from(apiKeys).where(eq(apiKeys.id, row.id));
      expect(still).toEqual(after);
    });

    it("admins revoke any client's keys", async () => {
      const { row } = await insertKey(db, clientB, "admin-revokes");
      expect((await revokeApiKey(db, admin, clientB, row.id)).revoked).toBe(true);
    });

    it("others are refused and the key keeps working", async () => {
      const { row } = await insertKey(db, clientA, "keep-me");
      const before = await snapshot();
      for (const v of [otherManager, plain, null]) {
        await expect(revokeApiKey(db, v, clientA, row.id)).rejects.toMatchObject({ code: "forbidden" });
      }
      // naming their own client does not help with someone else's key: not found, never revealed
      await expect(revokeApiKey(db, otherManager, clientB, row.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(revokeApiKey(db, admin, clientB, row.id)).rejects.toMatchObject({ code: "not_found" });
      expect(await snapshot()).toBe(before);
    });

    it("unknown and malformed key ids are not found", async () => {
      await expect(revokeApiKey(db, manager, clientA, MISSING_ID)).rejects.toMatchObject({ code: "not_found" });
      await expect(revokeApiKey(db, manager, clientA, "nope")).rejects.toMatchObject({ code: "not_found" });
      await expect(revokeApiKey(db, admin, "nope", MISSING_ID)).rejects.toMatchObject({ code: "not_found" });
    });
  });

  describe("listApiKeys", () => {
    let clientC: string;
    beforeAll(async () => {
      clientC = (await insertClient(db, "client-c")).id;
      await insertKey(db, clientC, "production", { requests: 5, input: 1000, output: 234, coins: "1.234567", createdAt: day(1), lastUsedAt: day(5) });
      await insertKey(db, clientC, "staging", { createdAt: day(2) });
      await insertKey(db, clientC, "50%_off", { createdAt: day(3) });
      await insertKey(db, clientC, "500off", { createdAt: day(4) });
      await insertKey(db, clientC, "x_y", { createdAt: day(5) });
      await insertKey(db, clientC, "xzy", { createdAt: day(6) });
      await insertKey(db, clientC, "old-ci", { createdAt: day(7), revokedAt: day(8), requests: 9 });
      await insertKey(db, clientA, "not-c", { createdAt: day(9) });
    });
    const names = async (opts: Parameters<typeof listApiKeys>[2] = {}) => (await listApiKeys(db, clientC, opts)).map((k) => k.name);

    it("lists the client's active keys newest first; revoked ones only on request", async () => {
      expect(await names()).toEqual(["xzy", "x_y", "500off", "50%_off", "staging", "production"]);
      expect(await names({ showInactive: true })).toEqual(["old-ci", "xzy", "x_y", "500off", "50%_off", "staging", "production"]);
      expect(await countApiKeys(db, clientC)).toEqual({ active: 6, revoked: 1, expired: 0 });
    });

    it("returns counters exactly, tokens as input + output", async () => {
      const [prod] = await listApiKeys(db, clientC, { q: "production" });
      expect(prod).toMatchObject({ requests: 5, tokens: "1234", coins: "1.234567", lastUsedAt: day(5), createdAt: day(1), revokedAt: null });
      expect(prod?.hint).toMatch(/^sk_.{4}….{4}$/);
      const [old] = await listApiKeys(db, clientC, { q: "old", showInactive: true });
      expect(old).toMatchObject({ requests: 9, revokedAt: day(8), lastUsedAt: null });
    });

    it("searches names as a case-insensitive substring with % and _ literal", async () => {
      expect(await names({ q: "PROD" })).toEqual(["production"]);
      expect(await names({ q: "%" })).toEqual(["50%_off"]);
      expect(await names({ q: "_" })).toEqual(["x_y", "50%_off"]);
      expect(await names({ q: "x_y" })).toEqual(["x_y"]);
      expect(await names({ q: "\\" })).toEqual([]);
      expect(await names({ q: "ci" })).toEqual([]);
      expect(await names({ q: "ci", showInactive: true })).toEqual(["old-ci"]);
      expect(await names({ q: "  " })).toHaveLength(6);
    });

    it("honours the limit", async () => {
      expect(await names({ limit: 2 })).toEqual(["xzy", "x_y"]);
    });
  });

  describe("findKeyByHash", () => {
    it("finds a key by its hash and reports revocation and the client's state", async () => {
      const made = await createApiKey(db, manager, clientA, "gateway-lookup");
      const hash = hashApiKey(made.plaintext);
      expect(await findKeyByHash(db, hash)).toEqual({
        keyId: made.id,
        clientId: clientA,
        clientName: "client-a",
        clientActive: true,
        revokedAt: null,
        expiresAt: null,
        secretValidUntil: null,
      });

      await db.update(clients).set({ active: false }).where(eq(clients.id, clientA));
      expect((await findKeyByHash(db, hash))?.clientActive).toBe(false);
      await db.update(clients).set({ active: true }).where(eq(clients.id, clientA));

      const { revokedAt } = await revokeApiKey(db, manager, clientA, made.id);
      expect(await findKeyByHash(db, hash)).toEqual({
        keyId: made.id,
        clientId: clientA,
        clientName: "client-a",
        clientActive: true,
        revokedAt,
        expiresAt: null,
        secretValidUntil: null,
      });
    });

    it("returns null for unknown hashes and for the plaintext itself", async () => {
      const made = await createApiKey(db, manager, clientA, "not-by-plaintext");
      expect(await findKeyByHash(db, made.plaintext)).toBeNull();
      expect(await findKeyByHash(db, hashApiKey(made.plaintext, "another-secret-another-secret-00"))).toBeNull();
      expect(await findKeyByHash(db, "0".repeat(64))).toBeNull();
    });
  });
});
