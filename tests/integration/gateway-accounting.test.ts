/**
 * The gateway's accounting over real HTTP: after a mix of traffic, Σ request log = client counters =
 * Σ key counters = Σ model counters = Σ daily counters and the pool to the exact coin
 * (lib/coins/audit.ts); concurrent requests against a small pool; "after-answer" settlement; a
 * revoked key refused within a second with the key cache on.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import OpenAI from "openai";
import { apiKeys, clientModelUsage, clients, coinReservations } from "@/lib/db/schema";
import { parseConfigText } from "@/lib/config/load";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { accountingTotals } from "@/lib/coins/audit";
import { EndpointRegistry } from "@/lib/gateway/endpoints";
import { KeyCache } from "@/lib/gateway/auth";
import { createGateway } from "@/lib/gateway/pipeline";
import { backends } from "../helpers/backend";
import { serveGateway } from "../helpers/gateway-rig";
import { gatewayWorldConfig, useGatewayWorld } from "../helpers/gateway-world";
import { sleep } from "../helpers/fake-upstream";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "gateway-accounting-secret-0123456789-abcdefgh";

describe.each(backends())("gateway over HTTP, accounting, on $name", (backend) => {
  const { rig, ids, keys, keyIds, openai, post, logRows, lastLog, logCount, balance, waitFor } = useGatewayWorld(backend);

  // The traffic to audit: what the other gateway suites send one by one — echo and upstream, JSON and
  // streamed, reported and estimated usage, embeddings, upstream errors and a dropped stream.
  beforeAll(async () => {
    const ask = (model: string) => ({ model, messages: [{ role: "user" as const, content: "hello world" }] });
    for (const m of ["echo", "org/echo-large", "bad/ok", "bad/nousage", "echo"]) await openai().chat.completions.create(ask(m));
    for (const m of ["echo", "bad/ok"]) {
      for await (const _ of await openai().chat.completions.create({ ...ask(m), stream: true, stream_options: { include_usage: true } }));
    }
    await openai().embeddings.create({ model: "echo", input: ["alpha beta", "gamma"] });
    await openai().embeddings.create({ model: "bad/emb", input: "x" });
    for (const m of ["bad/400", "bad/500"]) await expect(openai().chat.completions.create(ask(m))).rejects.toBeInstanceOf(OpenAI.APIError);
    const dropped = await openai().chat.completions.create({ ...ask("bad/drop"), stream: true });
    await expect(
      (async () => {
        for await (const _ of dropped);
      })(),
    ).rejects.toMatchObject({ code: "upstream_error" });
  });

  describe("accounting", () => {
    it("Σ request log = client counters = Σ key counters = Σ model counters, and the pool to the exact coin", async () => {
      await waitFor(async () => (await rig.db.select().from(coinReservations).where(eq(coinReservations.clientId, ids.acme))).length === 0);
      const totals = await accountingTotals(rig.db, ids.acme);
      expect(Number(totals.requestLog.requests)).toBeGreaterThan(10);
      expect(totals.clients).toEqual(totals.requestLog);
      expect(totals.apiKeys).toEqual(totals.requestLog);
      expect(totals.clientModelUsage).toEqual(totals.requestLog);
      expect(totals.clientDailyUsage).toEqual(totals.requestLog);
      expect(await balance(ids.acme)).toBe(formatMicro(parseCoins("100") - parseCoins(totals.requestLog.coins)));

      const [key] = await rig.db.select().from(apiKeys).where(eq(apiKeys.id, keyIds.acme));
      const [client] = await rig.db.select().from(clients).where(eq(clients.id, ids.acme));
      expect(key?.requests).toBe(client?.requests);
      const [echoUsage] = await rig.db
        .select()
        .from(clientModelUsage)
        .where(and(eq(clientModelUsage.clientId, ids.acme), eq(clientModelUsage.model, "echo")));
      const echoLog = (await logRows(ids.acme)).filter((r) => r.model === "echo");
      expect(echoUsage?.requests).toBe(echoLog.length);
      expect(echoUsage?.coinsSpent).toBe(formatMicro(echoLog.reduce((s, r) => s + parseCoins(r.coins), 0n)));
    });

    it("concurrent requests against a small pool: refused once empty, and the pool equals the log exactly", async () => {
      const tight = await insertClient(rig.db, "tight");
      const key = await insertKey(rig.db, tight.id, "burst");
      const small = parseConfigText(
        gatewayWorldConfig(rig.upstream.url, 1).replace("clients:\n", "clients:\n  tight: {max: 0.0001, refresh: 0, starting: 0.0001, model_access: {default: allowed}}\n"),
        "test-config.yaml",
      ).config;
      const previous = rig.config;
      rig.config = small;
      try {
        const statuses = await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            post(
              "/v1/chat/completions",
              { model: "echo", messages: [{ role: "user", content: `request number ${i}` }], stream: i % 2 === 0 },
              { authorization: `Bearer ${key.plaintext}` },
            ).then(async (r) => (await r.text(), r.status)),
          ),
        );
        expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
        expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
        expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
        await waitFor(async () => (await rig.db.select().from(coinReservations).where(eq(coinReservations.clientId, tight.id))).length === 0);
        const totals = await accountingTotals(rig.db, tight.id);
        expect(Number(totals.requestLog.requests)).toBe(statuses.filter((s) => s === 200).length);
        expect(totals.clients).toEqual(totals.requestLog);
        expect(totals.apiKeys).toEqual(totals.requestLog);
        expect(totals.clientModelUsage).toEqual(totals.requestLog);
        expect(await balance(tight.id)).toBe(formatMicro(parseCoins("0.0001") - parseCoins(totals.requestLog.coins)));
      } finally {
        rig.config = previous;
      }
    });

    it('"after-answer" settlement: the answer leaves first, idle() waits for the log row', async () => {
      const getDb = async () => rig.db;
      const fast = createGateway({ getDb, getConfig: () => rig.config, settleMode: "after-answer" });
      try {
        const before = await logCount(ids.acme);
        const req = new Request("http://lumen.test/v1/chat/completions", {
          method: "POST",
          headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "quick" }] }),
        });
        const res = await fast.chatCompletions(req);
        expect(res.status).toBe(200);
        await fast.idle();
        expect(await logCount(ids.acme)).toBe(before + 1);
        expect(await lastLog(ids.acme)).toMatchObject({ model: "echo", inputTokens: 2, outputTokens: 2, status: 200 });
      } finally {
        fast.close();
      }
    });

    it("a revoked key is refused within 1 second even with the key cache on", async () => {
      const getDb = async () => rig.db;
      const cached = createGateway({
        getDb,
        getConfig: () => rig.config,
        keyCache: new KeyCache(),
        endpoints: new EndpointRegistry({ getDb, getConfig: () => rig.config }),
      });
      const srv = await serveGateway(cached);
      try {
        const k = await insertKey(rig.db, ids.acme, "short-lived");
        const call = () =>
          fetch(`${srv.url}/v1/models`, { headers: { authorization: `Bearer ${k.plaintext}` } }).then((r) => r.status);
        expect(await call()).toBe(200);
        await rig.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, k.row.id));
        await sleep(1000);
        expect(await call()).toBe(401);
      } finally {
        cached.close();
        await srv.close();
      }
    });
  });
});
