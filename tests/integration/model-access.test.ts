import { beforeAll, describe, expect, it } from "vitest";
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clientManagers, clientModelUsage, consents, endpoints, models } from "@/lib/db/schema";
import { parseConfigText } from "@/lib/config/load";
import type { LumenConfig } from "@/lib/config/schema";
import {
  clientModelAccess,
  modelHealth,
  POOL_BLOCKED_REASON,
  REMOVED_REASON,
  type EndpointHealthRow,
  type ModelAccessRow,
} from "@/lib/access/client-models";
import { grantConsent } from "@/lib/access/consent";
import { clientUsageSummary } from "@/lib/clients/usage";
import { DomainError } from "@/lib/errors";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";

const ACK = "Do **not** send personal data. <script>alert(1)</script>";

const configText = (ack = ACK) => `
admins: [admin@example.com]
defaults: {model_access: blocked}
groups:
  research: {max: 500, refresh: 5, model_access: {default: allowed}}
clients:
  default: {max: 100, refresh: 1, starting: 100, model_access: {default: blocked, allowed: [echo]}}
  research-bot: {groups: [research], model_access: {blocked: [secret], graylist: [legacy]}}
  frozen: {max: 0, model_access: {default: allowed}}
models:
  - {name: echo, endpoints: [{url: "builtin:echo"}]}
  - name: llama3
    access: allowed
    needs_ack: true
    ack_message: ${JSON.stringify(ack)}
    endpoints: [{url: "http://gpu-1:8000/v1", model: meta-llama/x}, {url: "http://gpu-2:8000/v1"}]
  - {name: secret, access: allowed, endpoints: [{url: "http://gpu-3:8000/v1"}]}
  - {name: old, disabled: true, endpoints: [{url: "builtin:echo"}]}
  - {name: legacy, endpoints: [{url: "http://gpu-4:8000/v1"}]}
`;

const CONFIG: LumenConfig = parseConfigText(configText(), "config.yaml").config;

const byName = (rows: ModelAccessRow[]) => Object.fromEntries(rows.map((r) => [r.name, r]));
const statuses = (rows: ModelAccessRow[]) => Object.fromEntries(rows.map((r) => [r.name, r.status]));

describe("modelHealth", () => {
  const model = (urls: string[], disabled = false) =>
    ({ name: "m", disabled, endpoints: urls.map((url) => ({ url })) }) as LumenConfig["models"][number];
  const check = (url: string, healthy: boolean | null): EndpointHealthRow => ({ model: "m", url, upstreamModel: null, healthy });
  const [A, B] = ["http://a:1/v1", "http://b:1/v1"];

  it("derives ok / degraded / down / disabled / unknown from the endpoints", () => {
    expect(modelHealth(model(["builtin:echo"]), [])).toBe("ok");
    expect(modelHealth(model(["builtin:echo"], true), [])).toBe("disabled");
    expect(modelHealth(model([A, B]), [check(A, true), check(B, true)])).toBe("ok");
    expect(modelHealth(model([A, B]), [check(A, true), check(B, false)])).toBe("degraded");
    expect(modelHealth(model([A, B]), [check(A, true)])).toBe("degraded");
    expect(modelHealth(model([A, B]), [check(A, false), check(B, false)])).toBe("down");
    expect(modelHealth(model([A, B]), [])).toBe("unknown");
    expect(modelHealth(model([A, B]), [check(A, null), check(B, false)])).toBe("unknown");
    expect(modelHealth(model([A]), [{ ...check(A, false), model: "other" }])).toBe("unknown");
  });
});

describe.each(backends())("model access and consent on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let { admin, manager, otherManager, plain } = {} as Roles;
  let bot: { id: string; name: string };
  let researchBot: { id: string; name: string };
  let frozen: { id: string; name: string };
  let other: { id: string; name: string };
  const lastUsed = new Date("2026-02-03T04:05:06.000Z");

  beforeAll(async () => {
    ({ admin, manager, otherManager, plain } = await setUpRoles(db));
    bot = await insertClient(db, "bot", { requests: 7, input: 1000, output: 234, coins: "1.234567" });
    researchBot = await insertClient(db, "research-bot");
    frozen = await insertClient(db, "frozen");
    other = await insertClient(db, "other");
    await db.insert(clientManagers).values([
      { clientId: bot.id, userId: manager.user.id },
      { clientId: other.id, userId: otherManager.user.id },
    ]);
    await db.insert(models).values(CONFIG.models.map((m) => ({ name: m.name, disabled: m.disabled })));
    await db.insert(endpoints).values([
      { model: "llama3", url: "http://gpu-1:8000/v1", upstreamModel: "meta-llama/x", healthy: true },
      { model: "llama3", url: "http://gpu-2:8000/v1", healthy: false },
      { model: "legacy", url: "http://gpu-4:8000/v1", healthy: false },
    ]);
    await db.insert(clientModelUsage).values([
      { clientId: bot.id, model: "echo", requests: 5, inputTokens: 900, outputTokens: 200, coinsSpent: "1.000000", lastUsedAt: lastUsed },
      { clientId: bot.id, model: "gone", requests: 2, inputTokens: 100, outputTokens: 34, coinsSpent: "0.234567", lastUsedAt: lastUsed },
      { clientId: other.id, model: "echo", requests: 99, inputTokens: 1, outputTokens: 1, coinsSpent: "9.000000" },
    ]);
  });

  const consentRows = () => db.select().from(consents).orderBy(consents.clientId, consents.model);
  const refused = async (promise: Promise<unknown>, code: DomainError["code"], message?: RegExp) => {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(code);
    if (message) expect((err as DomainError).message).toMatch(message);
  };

  it("resolves every configured model's status for each client", async () => {
    expect(statuses(await clientModelAccess(db, CONFIG, bot))).toEqual({
      echo: "allowed",
      llama3: "needs_consent",
      secret: "allowed",
      old: "blocked",
      legacy: "blocked",
      gone: "blocked",
    });
    const research = byName(await clientModelAccess(db, CONFIG, researchBot));
    expect(statuses(Object.values(research))).toEqual({
      echo: "allowed",
      llama3: "needs_consent",
      secret: "blocked",
      old: "blocked",
      legacy: "needs_consent",
    });
    expect(research.echo?.reason).toBe("allowed by the default of group research");
    expect(research.secret?.reason).toBe("blocked by the client's model_access.blocked");
    expect(research.old?.reason).toBe("model disabled");
    expect(research.legacy?.needsAck).toBe(true);
    expect(research.llama3).toMatchObject({ needsAck: true, ackMessage: ACK });
  });

  it("max 0 blocks every model, with the pool as the reason", async () => {
    const rows = await clientModelAccess(db, CONFIG, frozen);
    expect(rows.map((r) => r.name)).toEqual(["echo", "llama3", "secret", "old", "legacy"]);
    for (const row of rows) expect(row).toMatchObject({ status: "blocked", reason: POOL_BLOCKED_REASON });
  });

  it("shows health per model", async () => {
    const rows = byName(await clientModelAccess(db, CONFIG, bot));
    expect(rows.echo?.health).toBe("ok");
    expect(rows.llama3?.health).toBe("degraded");
    expect(rows.secret?.health).toBe("unknown");
    expect(rows.old?.health).toBe("disabled");
    expect(rows.legacy?.health).toBe("down");
    expect(rows.gone?.health).toBe("disabled");
  });

  it("takes the client's usage per model from client_model_usage", async () => {
    const rows = byName(await clientModelAccess(db, CONFIG, bot));
    expect(rows.echo).toMatchObject({ requests: 5, tokens: "1100", coins: "1.000000", lastUsedAt: lastUsed });
    expect(rows.llama3).toMatchObject({ requests: 0, tokens: "0", coins: "0.000000", lastUsedAt: null });
    // A model removed from config.yaml keeps its history, at the end of the table.
    expect(rows.gone).toMatchObject({ inConfig: false, reason: REMOVED_REASON, requests: 2, tokens: "134" });
    expect((await clientModelAccess(db, CONFIG, bot)).at(-1)?.name).toBe("gone");
    // Another client's usage never leaks in.
    expect(byName(await clientModelAccess(db, CONFIG, researchBot)).echo?.requests).toBe(0);
  });

  it("refuses consent to a plain user, a manager of another client and a signed-out caller, changing nothing", async () => {
    await refused(grantConsent(db, plain, bot.id, "llama3", CONFIG), "forbidden");
    await refused(grantConsent(db, otherManager, bot.id, "llama3", CONFIG), "forbidden");
    await refused(grantConsent(db, null, bot.id, "llama3", CONFIG), "forbidden");
    expect(await consentRows()).toEqual([]);
    expect(statuses(await clientModelAccess(db, CONFIG, bot)).llama3).toBe("needs_consent");
  });

  it("refuses unknown clients, unknown models, blocked models and models without consent", async () => {
    await refused(grantConsent(db, admin, "not-a-uuid", "llama3", CONFIG), "not_found");
    await refused(grantConsent(db, admin, "00000000-0000-4000-8000-000000000000", "llama3", CONFIG), "not_found");
    await refused(grantConsent(db, admin, bot.id, "no-such-model", CONFIG), "not_found");
    await refused(grantConsent(db, admin, bot.id, "legacy", CONFIG), "invalid", /not allowed for this client/);
    await refused(grantConsent(db, admin, bot.id, "old", CONFIG), "invalid", /not allowed for this client/);
    await refused(grantConsent(db, admin, researchBot.id, "secret", CONFIG), "invalid", /not allowed for this client/);
    await refused(grantConsent(db, admin, bot.id, "echo", CONFIG), "invalid", /does not need consent/);
    expect(await consentRows()).toEqual([]);
  });

  it("lets this client's manager consent, recording who and the ack text; a second consent is a no-op", async () => {
    const before = Date.now();
    expect(await grantConsent(db, manager, bot.id, "llama3", CONFIG)).toEqual({ created: true });
    expect(await grantConsent(db, admin, bot.id, "llama3", CONFIG)).toEqual({ created: false });
    expect(await grantConsent(db, manager, bot.id, "llama3", CONFIG)).toEqual({ created: false });

    const rows = await consentRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ clientId: bot.id, model: "llama3", userId: manager.user.id, ackMessage: ACK });
    expect(rows[0]!.createdAt.getTime()).toBeGreaterThanOrEqual(before - 60_000);

    const llama = byName(await clientModelAccess(db, CONFIG, bot)).llama3;
    expect(llama?.status).toBe("consented");
    expect(llama?.consent).toMatchObject({ byEmail: "manager@example.com" });
    // Other clients still need their own consent.
    expect(statuses(await clientModelAccess(db, CONFIG, researchBot)).llama3).toBe("needs_consent");
  });

  it("lets an admin consent (also for a legacy graylisted model), and keeps consent when the ack text changes", async () => {
    expect(await grantConsent(db, admin, researchBot.id, "legacy", CONFIG)).toEqual({ created: true });
    const [row] = await db
      .select()
      .from(consents)
      .where(and(eq(consents.clientId, researchBot.id), eq(consents.model, "legacy")));
    expect(row).toMatchObject({ userId: admin.user.id, ackMessage: null });

    const edited = parseConfigText(configText("New terms."), "config.yaml").config;
    expect(statuses(await clientModelAccess(db, edited, bot)).llama3).toBe("consented");
    expect(await grantConsent(db, admin, bot.id, "llama3", edited)).toEqual({ created: false });
    const [kept] = await db
      .select({ ack: consents.ackMessage })
      .from(consents)
      .where(and(eq(consents.clientId, bot.id), eq(consents.model, "llama3")));
    expect(kept?.ack).toBe(ACK);
  });

  it("records one consent when two arrive at once", async () => {
    const results = await Promise.all([
      grantConsent(db, admin, researchBot.id, "llama3", CONFIG),
      grantConsent(db, admin, researchBot.id, "llama3", CONFIG),
    ]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const [n] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(consents)
      .where(and(eq(consents.clientId, researchBot.id), eq(consents.model, "llama3")));
    expect(Number(n?.n)).toBe(1);
  });

  it("reads the usage cards' totals from the client's counters", async () => {
    expect(await clientUsageSummary(db, bot.id)).toEqual({
      requests: 7,
      tokens: "1234",
      coins: "1.234567",
      audioSeconds: "0.000",
      lastUsedAt: null,
    });
    expect(await clientUsageSummary(db, "00000000-0000-4000-8000-000000000000")).toBeNull();
  });
});
