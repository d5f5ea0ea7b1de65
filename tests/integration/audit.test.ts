/**
 * The activity trail (issue 11, item 3): every console change writes one audit_events row in its own
 * transaction — present when the change is, absent when it rolled back, and the change refused when
 * the row cannot be written — the table refuses updates and deletes, and the Activity section pages it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { desc, eq, sql } from "drizzle-orm";
import { rows, type Db } from "@/lib/db/client";
import { apiKeys, auditEvents, clients, consents } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import { grantConsent } from "@/lib/access/consent";
import { originFromHeaders, type AuditAction } from "@/lib/audit/events";
import { ACTIVITY_PAGE, listActivity, parseActivityParams } from "@/lib/audit/queries";
import { setClientActive } from "@/lib/clients/activation";
import { createClient, recordConfigEntry } from "@/lib/clients/commands";
import { addManager, removeManager } from "@/lib/clients/managers";
import { parseConfigText } from "@/lib/config/load";
import { createApiKey, endKeyGrace, revokeApiKey, rotateApiKey } from "@/lib/keys/commands";
import { tempConfigFile } from "../helpers/config-file";
import { backends, useBackend } from "../helpers/backend";
import { insertClient, viewerFor } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "audit-test-secret-0123456789-abcdefghijk";

const TERMS = "Outputs may be logged. **Do not** send personal data.";
const CONFIG = parseConfigText(
  `clients:\n  default: {max: 10, model_access: {default: allowed}}\nmodels:\n  - {name: echo, endpoints: [{url: "builtin:echo"}]}\n  - name: llama3\n    needs_ack: true\n    ack_message: ${JSON.stringify(TERMS)}\n    endpoints: [{url: "builtin:echo"}]\n  - {name: free, needs_ack: true, endpoints: [{url: "builtin:echo"}]}\n`,
  "config.yaml",
).config;
const ORIGIN = { ip: "203.0.113.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64) AuditTest/1.0" };

class Rollback extends Error {}

describe.each(backends())("activity trail on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let admin: Viewer;
  let manager: Viewer;
  let plain: Viewer;
  let clientId: string;

  beforeAll(async () => {
    admin = { ...(await viewerFor(db, "admin@example.com", true)), origin: ORIGIN };
    manager = { ...(await viewerFor(db, "manager@example.com", false)), origin: { ip: "198.51.100.2", userAgent: null } };
    plain = await viewerFor(db, "plain@example.com", false);
    clientId = (await insertClient(db, "audited")).id;
    await addManager(db, admin, clientId, manager.user.id);
  });
  afterEach(() => vi.restoreAllMocks());
  const config = tempConfigFile();
  afterAll(() => config.cleanup());

  const events = async (client = clientId) =>
    db.select().from(auditEvents).where(eq(auditEvents.clientId, client)).orderBy(desc(auditEvents.id));
  const count = async () => Number((await rows<{ n: number }>(db, sql`select count(*)::int as n from audit_events`))[0]?.n);
  const lastEvent = async (client = clientId) => (await events(client))[0];

  /** Runs `change` and returns the one row it added (fails if it added another number). */
  async function oneRow(change: () => Promise<unknown>) {
    const before = await count();
    await change();
    expect(await count()).toBe(before + 1);
    return (await db.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(1))[0]!;
  }

  describe("each change writes one row with who, what, where", () => {
    it("client created, activated, deactivated; config.yaml written or failed", async () => {
      const created = await createClient(db, admin, "new-client", { configFile: config.file });
      const trail = await events(created.id);
      expect(trail).toHaveLength(2);
      const [entry, row] = trail;
      expect(entry).toMatchObject({ action: "config.entry_written", targetType: "config", targetLabel: "clients.new-client" });
      expect(row).toMatchObject({
        actorId: admin.user.id,
        actorEmail: "admin@example.com",
        clientId: created.id,
        action: "client.created",
        targetType: "client",
        targetId: created.id,
        targetLabel: "new-client",
        ip: ORIGIN.ip,
        userAgent: ORIGIN.userAgent,
      });
      expect(row!.createdAt).toBeInstanceOf(Date);

      expect(await oneRow(() => recordConfigEntry(db, admin, created, { written: true }))).toMatchObject({
        action: "config.entry_written",
        targetLabel: "clients.new-client",
      });
      expect(await oneRow(() => recordConfigEntry(db, admin, created, { written: false, reason: "config.yaml: permission denied" }))).toMatchObject({
        action: "config.entry_failed",
        details: { reason: "config.yaml: permission denied" },
      });
      expect(await oneRow(() => setClientActive(db, admin, created.id, false))).toMatchObject({ action: "client.deactivated", targetLabel: "new-client" });
      // deactivating again changes nothing, so it records nothing
      const before = await count();
      await setClientActive(db, admin, created.id, false);
      expect(await count()).toBe(before);
      expect(await oneRow(() => setClientActive(db, admin, created.id, true))).toMatchObject({ action: "client.activated" });
    });

    it("manager added and removed (a no-op removal records nothing)", async () => {
      const person = await viewerFor(db, "person@example.com", false);
      expect(await oneRow(() => addManager(db, admin, clientId, person.user.id))).toMatchObject({
        action: "manager.added",
        targetType: "user",
        targetId: person.user.id,
        targetLabel: "person@example.com",
        details: { name: "person" },
      });
      expect(await oneRow(() => removeManager(db, admin, clientId, person.user.id))).toMatchObject({
        action: "manager.removed",
        targetLabel: "person@example.com",
      });
      const before = await count();
      await removeManager(db, admin, clientId, person.user.id);
      expect(await count()).toBe(before);
    });

    it("key created, rotated, grace ended, revoked (a second revocation records nothing)", async () => {
      let key!: Awaited<ReturnType<typeof createApiKey>>;
      const created = await oneRow(async () => {
        key = await createApiKey(db, manager, clientId, "audited-key", { expiry: "90" }, { maxLifetimeDays: null });
      });
      expect(created).toMatchObject({
        actorId: manager.user.id,
        action: "key.created",
        targetType: "key",
        targetId: key.id,
        targetLabel: "audited-key",
        details: { hint: key.hint, expiresAt: key.expiresAt!.toISOString() },
        ip: "198.51.100.2",
        userAgent: null,
      });
      let rotated!: Awaited<ReturnType<typeof rotateApiKey>>;
      const rotation = await oneRow(async () => {
        rotated = await rotateApiKey(db, manager, clientId, key.id, "24h");
      });
      expect(rotation).toMatchObject({
        action: "key.rotated",
        targetId: key.id,
        details: { oldHint: key.hint, newHint: rotated.hint, grace: "24h", oldSecretValidUntil: rotated.oldValidUntil.toISOString() },
      });
      expect(await oneRow(() => endKeyGrace(db, manager, clientId, key.id))).toMatchObject({
        action: "key.grace_ended",
        details: { oldHints: [key.hint] },
      });
      expect(await oneRow(() => revokeApiKey(db, admin, clientId, key.id))).toMatchObject({
        action: "key.revoked",
        targetLabel: "audited-key",
        details: { hint: rotated.hint },
      });
      const before = await count();
      await revokeApiKey(db, admin, clientId, key.id);
      await endKeyGrace(db, admin, clientId, key.id);
      expect(await count()).toBe(before);
      // no secret, plaintext or hash, ever reaches the trail
      const dump = JSON.stringify(await events());
      expect(dump).not.toContain(key.plaintext.slice(3));
      expect(dump).not.toContain(rotated.plaintext.slice(3));
    });

    it("consent given, with the terms' text as shown; changed terms are refused and record nothing", async () => {
      const before = await count();
      await expect(grantConsent(db, manager, clientId, "llama3", CONFIG, "an older text")).rejects.toMatchObject({ code: "conflict" });
      expect(await count()).toBe(before);
      expect(await oneRow(() => grantConsent(db, manager, clientId, "llama3", CONFIG, TERMS))).toMatchObject({
        action: "consent.given",
        targetType: "model",
        targetLabel: "llama3",
        details: { terms: TERMS },
      });
      // consenting again changes nothing and records nothing
      await grantConsent(db, admin, clientId, "llama3", CONFIG);
      expect(await count()).toBe(before + 1);
      // a model without a text: recorded with null terms
      expect(await oneRow(() => grantConsent(db, admin, clientId, "free", CONFIG, ""))).toMatchObject({ details: { terms: null } });
    });

    it("a refused change records nothing", async () => {
      const { row } = await insertKey(db, clientId, "untouchable");
      const before = await count();
      await expect(revokeApiKey(db, plain, clientId, row.id)).rejects.toMatchObject({ code: "forbidden" });
      await expect(rotateApiKey(db, plain, clientId, row.id, "1h")).rejects.toMatchObject({ code: "forbidden" });
      await expect(createApiKey(db, null, clientId, "x")).rejects.toMatchObject({ code: "forbidden" });
      await expect(setClientActive(db, manager, clientId, false)).rejects.toMatchObject({ code: "forbidden" });
      await expect(addManager(db, manager, clientId, plain.user.id)).rejects.toMatchObject({ code: "forbidden" });
      await expect(createClient(db, manager, "nope", { configFile: config.file })).rejects.toMatchObject({ code: "forbidden" });
      await expect(grantConsent(db, plain, clientId, "llama3", CONFIG)).rejects.toMatchObject({ code: "forbidden" });
      expect(await count()).toBe(before);
    });
  });

  describe("one transaction with its change", () => {
    it("when the audit row cannot be written, the change does not happen (every action)", async () => {
      const person = await viewerFor(db, "rollback-person@example.com", false);
      const target = (await insertClient(db, "rollback-target")).id;
      await addManager(db, admin, target, manager.user.id);
      const { row: key } = await insertKey(db, target, "rollback-key");
      const rotated = await insertKey(db, target, "rollback-rotated");
      await rotateApiKey(db, admin, target, rotated.row.id, "7d");
      const state = async () =>
        JSON.stringify([
          await db.select().from(clients).where(eq(clients.id, target)),
          await db.select().from(apiKeys).where(eq(apiKeys.clientId, target)).orderBy(apiKeys.id),
          await db.select().from(consents).where(eq(consents.clientId, target)),
          await rows(db, sql`select * from client_managers where client_id = ${target} order by user_id`),
          await rows(db, sql`select * from api_key_retired_secrets order by id`),
          await rows(db, sql`select name from clients order by name`),
        ]);
      const cases: Array<[AuditAction, () => Promise<unknown>]> = [
        ["client.created", () => createClient(db, admin, "never-created", { configFile: config.file })],
        ["client.deactivated", () => setClientActive(db, admin, target, false)],
        ["manager.added", () => addManager(db, admin, target, person.user.id)],
        ["manager.removed", () => removeManager(db, admin, target, manager.user.id)],
        ["key.created", () => createApiKey(db, manager, target, "never-made", {}, { maxLifetimeDays: null })],
        ["key.rotated", () => rotateApiKey(db, manager, target, key.id, "1h")],
        ["key.grace_ended", () => endKeyGrace(db, manager, target, rotated.row.id)],
        ["key.revoked", () => revokeApiKey(db, manager, target, key.id)],
        ["consent.given", () => grantConsent(db, manager, target, "llama3", CONFIG)],
      ];
      const log = vi.spyOn(console, "log").mockImplementation(() => {});
      for (const [action, change] of cases) {
        const before = await state();
        const trail = await count();
        await db.execute(sql.raw(`alter table audit_events add constraint test_refuse check (action <> '${action}') not valid`));
        try {
          await expect(change(), action).rejects.toThrow();
        } finally {
          await db.execute(sql.raw("alter table audit_events drop constraint test_refuse"));
        }
        expect(await state(), action).toBe(before);
        expect(await count(), action).toBe(trail);
      }
      // nor was any of them logged as having happened
      expect(log.mock.calls.filter(([line]) => String(line).includes('"msg":"audit"'))).toEqual([]);
    });

    it("when the change rolls back, its audit row goes with it", async () => {
      const { row } = await insertKey(db, clientId, "rolled-back");
      const trail = await count();
      await expect(
        db.transaction(async (tx) => {
          await revokeApiKey(tx as unknown as Db, admin, clientId, row.id);
          await rotateApiKey(tx as unknown as Db, admin, clientId, row.id, "1h").catch(() => {});
          throw new Rollback();
        }),
      ).rejects.toBeInstanceOf(Rollback);
      expect(await count()).toBe(trail);
      const [still] = await db.select().from(apiKeys).where(eq(apiKeys.id, row.id));
      expect(still?.revokedAt).toBeNull();
    });

    it("a committed change is also one structured log line, with no secret in it", async () => {
      const lines: string[] = [];
      vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
      const key = await createApiKey(db, admin, clientId, "logged", {}, { maxLifetimeDays: null });
      const audit = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "audit");
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        level: "info",
        action: "key.created",
        clientId,
        actorId: admin.user.id,
        actorEmail: "admin@example.com",
        ip: ORIGIN.ip,
        target: { type: "key", id: key.id, label: "logged" },
      });
      expect(lines.join("\n")).not.toContain(key.plaintext.slice(3));
    });
  });

  describe("append-only", () => {
    it("the database refuses UPDATE, DELETE and TRUNCATE of audit_events", async () => {
      const trail = await count();
      expect(trail).toBeGreaterThan(0);
      for (const statement of [
        "update audit_events set action = 'client.created'",
        "update audit_events set ip = null where id = (select min(id) from audit_events)",
        "delete from audit_events",
        "truncate audit_events",
      ]) {
        await expect(db.execute(sql.raw(statement)), statement).rejects.toThrow();
      }
      expect(await count()).toBe(trail);
    });
  });

  describe("the Activity section's query", () => {
    it("newest first, 50 a page, filtered by kind, only this client's", async () => {
      const busy = (await insertClient(db, "busy")).id;
      const other = (await insertClient(db, "other")).id;
      for (let i = 0; i < 55; i++) await createApiKey(db, admin, busy, `k${i}`, {}, { maxLifetimeDays: null });
      await setClientActive(db, admin, busy, false);
      await createApiKey(db, admin, other, "elsewhere", {}, { maxLifetimeDays: null });

      const first = await listActivity(db, busy, parseActivityParams({}));
      expect(first.rows).toHaveLength(ACTIVITY_PAGE);
      expect(first.hasOlder).toBe(true);
      expect(first.rows[0]).toMatchObject({ action: "client.deactivated", actorName: "admin", actorEmail: "admin@example.com" });
      expect(first.rows[1]?.targetLabel).toBe("k54");
      const second = await listActivity(db, busy, parseActivityParams({ activity_page: "2" }));
      expect(second.rows.map((r) => r.targetLabel)).toEqual(["k5", "k4", "k3", "k2", "k1", "k0"]);
      expect(second.hasOlder).toBe(false);

      const clientOnly = await listActivity(db, busy, parseActivityParams({ activity_kind: "client" }));
      expect(clientOnly.rows.map((r) => r.action)).toEqual(["client.deactivated"]);
      expect((await listActivity(db, busy, parseActivityParams({ activity_kind: "managers" }))).rows).toEqual([]);
      const all = [...first.rows, ...second.rows];
      expect(all.every((r) => r.targetLabel !== "elsewhere")).toBe(true);
    });

    it("malformed parameters fall back to the default view", () => {
      expect(parseActivityParams({ activity_kind: "everything", activity_page: "-3" })).toEqual({ kind: null, page: 1 });
      expect(parseActivityParams({ activity_kind: ["keys", "client"], activity_page: "2" })).toEqual({ kind: "keys", page: 2 });
      expect(parseActivityParams({ activity_page: "1e9" })).toEqual({ kind: null, page: 1 });
    });
  });
});

describe("originFromHeaders", () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  it("records the last hop of x-forwarded-for (the socket's address, or what the trusted proxy saw); trims; unmaps IPv4", () => {
    expect(originFromHeaders(headers({ "x-forwarded-for": "::ffff:10.0.0.5", "user-agent": " UA " }))).toEqual({ ip: "10.0.0.5", userAgent: "UA" });
    // a caller's own entry in front of the proxy's is not believed
    expect(originFromHeaders(headers({ "x-forwarded-for": "1.2.3.4, 203.0.113.9" }))).toEqual({ ip: "203.0.113.9", userAgent: null });
    expect(originFromHeaders(headers({ "x-forwarded-for": "::1" }))).toEqual({ ip: "::1", userAgent: null });
    expect(originFromHeaders(headers({ "x-forwarded-for": " , " }))).toEqual({ ip: null, userAgent: null });
    expect(originFromHeaders(headers({}))).toEqual({ ip: null, userAgent: null });
  });
});
