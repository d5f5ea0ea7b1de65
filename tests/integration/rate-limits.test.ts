/**
 * Rate limits over real HTTP with the openai client (lib/gateway/rate-limits.ts): rpm, tpm (estimate at
 * admission, corrected at settlement), max_parallel, per client and per key, hot-reloaded, 429
 * rate_limit_exceeded with Retry-After and OpenAI's x-ratelimit-* headers — in process, then shared by
 * two gateways through one Redis (127.0.0.1:6379, or REDIS_URL), then with Redis unreachable (requests
 * pass, one warning a minute, a metric). On PGlite: the limiter itself never touches the database.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import OpenAI from "openai";
import type { Db } from "@/lib/db/client";
import { clients, requestLog } from "@/lib/db/schema";
import { parseConfigText } from "@/lib/config/load";
import type { LumenConfig } from "@/lib/config/schema";
import { EndpointRegistry } from "@/lib/gateway/endpoints";
import { createGateway, type Gateway } from "@/lib/gateway/pipeline";
import { RateLimiter, resetText } from "@/lib/gateway/rate-limits";
import { metrics } from "@/lib/metrics";
import { backends, useBackend } from "../helpers/backend";
import { serveGateway } from "../helpers/gateway-rig";
import { deadPort } from "../helpers/net";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "rate-limits-secret-0123456789-abcdefghij";
const REDIS_URL = process.env.REDIS_URL?.trim() || "redis://127.0.0.1:6379";

const limitsConfig = (extra = "", pacedRpm = 3) => `
${extra}
clients:
  default: {max: 0}
  paced: {max: -2, rpm: ${pacedRpm}, model_access: {default: allowed}}
  tokeny: {max: -2, tpm: 100, model_access: {default: allowed}}
  narrow: {max: -2, max_parallel: 1, model_access: {default: allowed}}
  keyed: {max: -2, key_limits: {rpm: 1}, model_access: {default: allowed}}
  broke: {max: 10, refresh: 0, starting: 0, rpm: 100, model_access: {default: allowed}}
models:
  - {name: echo, input_cost_per_million: 1, output_cost_per_million: 1, endpoints: [{url: "builtin:echo"}]}
  - {name: slow, endpoints: [{url: "builtin:echo", latency_ms: 400}]}
`;

const redisReachable = (url: string) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url);
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });

type Names = "paced" | "tokeny" | "narrow" | "keyed" | "broke";

describe("rate limits", () => {
  const backend = backends()[0]!;
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  const ids = {} as Record<Names, string>;
  const keys = {} as Record<Names | "keyed2", string>;
  const open: Array<{ gw: Gateway; server: Awaited<ReturnType<typeof serveGateway>> }> = [];

  /** A gateway with its own rate limiter (its own Redis connection), over HTTP. */
  async function startGateway(getConfig: () => LumenConfig) {
    const getDb = async () => db;
    const gw = createGateway({ getDb, getConfig, keyCache: null, endpoints: new EndpointRegistry({ getDb, getConfig }), rateLimiter: new RateLimiter(getConfig) });
    const server = await serveGateway(gw);
    open.push({ gw, server });
    return server.url;
  }
  const client = (base: string, key: string) => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
  const chat = (base: string, key: string, extra: Record<string, unknown> = {}) =>
    fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }], ...extra }),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { type: string; code: string; message: string } }).error;

  beforeAll(async () => {
    for (const name of ["paced", "tokeny", "narrow", "keyed", "broke"] as const) {
      ids[name] = (await insertClient(db, name)).id;
      keys[name] = (await insertKey(db, ids[name], "main")).plaintext;
    }
    keys.keyed2 = (await insertKey(db, ids.keyed, "second")).plaintext;
  });

  afterAll(async () => {
    for (const { gw, server } of open) {
      gw.close();
      await server.close();
    }
  });

  afterEach(() => vi.restoreAllMocks());

  describe("in this process", () => {
    let config: LumenConfig;
    let base: string;

    beforeAll(async () => {
      config = parseConfigText(limitsConfig(), "limits.yaml").config;
      base = await startGateway(() => config);
    });

    it("rpm: OpenAI's headers on every answer, then 429 rate_limit_exceeded with Retry-After; refused requests cost nothing", async () => {
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await chat(base, keys.paced);
        expect(res.status).toBe(200);
        expect(res.headers.get("x-ratelimit-limit-requests")).toBe("3");
        expect(res.headers.get("x-ratelimit-reset-requests")).toMatch(/^(\d+m)?\d+(ms|s)$/);
        expect(res.headers.get("x-ratelimit-limit-tokens")).toBeNull(); // no tpm configured
        remaining.push(res.headers.get("x-ratelimit-remaining-requests")!);
      }
      expect(remaining).toEqual(["2", "1", "0"]);
      const logged = (await db.select().from(requestLog).where(eq(requestLog.clientId, ids.paced))).length;
      const refused = await chat(base, keys.paced);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
      expect(await errorOf(refused)).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
      await expect(client(base, keys.paced).chat.completions.create({ model: "echo", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({
        status: 429,
        code: "rate_limit_exceeded",
        type: "rate_limit_error",
      });
      expect((await db.select().from(requestLog).where(eq(requestLog.clientId, ids.paced))).length).toBe(logged);
      const [row] = await db.select({ refusals: clients.refusals }).from(clients).where(eq(clients.id, ids.paced));
      expect(row?.refusals).toBe(2);
    });

    it("is distinct from insufficient_quota (coins), which comes after it", async () => {
      await expect(client(base, keys.broke).completions.create({ model: "echo", prompt: "x" })).rejects.toMatchObject({
        status: 429,
        code: "insufficient_quota",
        type: "insufficient_quota",
      });
    });

    it("hot-reloads: a raised limit applies to the next request", async () => {
      expect((await chat(base, keys.paced)).status).toBe(429);
      config = parseConfigText(limitsConfig("", 100), "limits.yaml").config;
      const res = await chat(base, keys.paced);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit-requests")).toBe("100");
      config = parseConfigText(limitsConfig(), "limits.yaml").config;
    });

    it("tpm: the estimate (prompt + max_tokens) at admission, corrected to the billed tokens at settlement", async () => {
      // Each estimate: 1 prompt token + 60 = 61 of 100; two at once do not fit.
      const [a, b] = await Promise.all([
        chat(base, keys.tokeny, { model: "slow", max_tokens: 60 }),
        new Promise((r) => setTimeout(r, 100)).then(() => chat(base, keys.tokeny, { model: "slow", max_tokens: 60 })),
      ]);
      expect(a.status).toBe(200);
      expect(a.headers.get("x-ratelimit-limit-tokens")).toBe("100");
      expect(a.headers.get("x-ratelimit-remaining-tokens")).toBe("39");
      expect(b.status).toBe(429);
      expect((await errorOf(b)).message).toMatch(/tokens per minute \(tpm\) of this client: limit 100/);
      // a was billed 1 + 2 tokens ("Echo: hi"): its 58 unused tokens are back.
      await new Promise((r) => setTimeout(r, 50));
      const c = await chat(base, keys.tokeny, { max_tokens: 60 });
      expect(c.status).toBe(200);
      expect(c.headers.get("x-ratelimit-remaining-tokens")).toBe(String(100 - 3 - 61));
    });

    it("max_parallel: requests in flight; a finished one frees its slot", async () => {
      const [a, b] = await Promise.all([
        chat(base, keys.narrow, { model: "slow" }),
        new Promise((r) => setTimeout(r, 100)).then(() => chat(base, keys.narrow, { model: "slow" })),
      ]);
      expect([a.status, b.status]).toEqual([200, 429]);
      expect((await errorOf(b)).message).toMatch(/requests in flight \(max_parallel\) of this client: limit 1/);
      expect((await chat(base, keys.narrow)).status).toBe(200);
    });

    it("key_limits: each key of the client has its own", async () => {
      expect((await chat(base, keys.keyed)).status).toBe(200);
      const again = await chat(base, keys.keyed);
      expect(again.status).toBe(429);
      expect((await errorOf(again)).message).toMatch(/this API key/);
      expect((await chat(base, keys.keyed2)).status).toBe(200);
    });

    it("formats resets as OpenAI does", () => {
      expect([resetText(20), resetText(1000), resetText(12_300), resetText(90_000)]).toEqual(["20ms", "1s", "13s", "1m30s"]);
    });
  });

  describe("two gateways on one Redis", () => {
    let reachable = false;
    let config: LumenConfig;
    let urls: string[] = [];

    beforeAll(async () => {
      reachable = await redisReachable(REDIS_URL);
      if (!reachable) return;
      // A prefix of its own: other runs and other tests on the same Redis never share these counters.
      const prefix = `lumen-test-${randomBytes(6).toString("hex")}`;
      config = parseConfigText(limitsConfig(`rate_limits: {storage_url: "${REDIS_URL}", key_prefix: ${prefix}}`, 4), "limits.yaml").config;
      urls = [await startGateway(() => config), await startGateway(() => config)];
    });

    it("share rpm: four requests a minute across both, whichever serves them", async (ctx) => {
      if (!reachable) ctx.skip();
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await chat(urls[i % 2]!, keys.paced)).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    });

    it("share max_parallel and tpm", async (ctx) => {
      if (!reachable) ctx.skip();
      const [a, b] = await Promise.all([
        chat(urls[0]!, keys.narrow, { model: "slow" }),
        new Promise((r) => setTimeout(r, 100)).then(() => chat(urls[1]!, keys.narrow, { model: "slow" })),
      ]);
      expect([a.status, b.status]).toEqual([200, 429]);
      expect((await chat(urls[1]!, keys.narrow)).status).toBe(200);
      const [c, d] = await Promise.all([
        chat(urls[1]!, keys.tokeny, { model: "slow", max_tokens: 60 }),
        new Promise((r) => setTimeout(r, 100)).then(() => chat(urls[0]!, keys.tokeny, { model: "slow", max_tokens: 60 })),
      ]);
      expect([c.status, d.status]).toEqual([200, 429]);
    });
  });

  describe("Redis unreachable", () => {
    it("lets requests pass without limits, warns at most once a minute, counts them in a metric", async () => {
      const config = parseConfigText(limitsConfig(`rate_limits: {storage_url: "redis://127.0.0.1:${await deadPort()}"}`, 1), "limits.yaml").config;
      const base = await startGateway(() => config);
      const warn = vi.spyOn(console, "warn");
      const counted = async () => (await metrics().rateLimitStoreErrors.get()).values[0]?.value ?? 0;
      const before = await counted();
      for (let i = 0; i < 5; i++) {
        const res = await chat(base, keys.paced);
        expect(res.status).toBe(200);
        expect(res.headers.get("x-ratelimit-limit-requests")).toBeNull();
      }
      expect((await counted()) - before).toBe(5);
      const warnings = warn.mock.calls.filter((c) => String(c[0]).includes("rate-limit store unreachable"));
      expect(warnings).toHaveLength(1);
    });
  });
});
