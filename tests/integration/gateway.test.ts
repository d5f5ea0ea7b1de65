/**
 * The /v1 gateway over real HTTP, without Next: a node:http server adapts requests to the pipeline's
 * web Request/Response handlers (streamed, with an abort signal tied to the socket), the official
 * `openai` client calls it, and a second node:http server plays a misbehaving upstream
 * (tests/helpers/upstream-api.ts).
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, desc, eq, sql } from "drizzle-orm";
import OpenAI from "openai";
import type { Db } from "@/lib/db/client";
import { apiKeys, clientModelUsage, clients, coinPools, coinReservations, endpoints, requestLog } from "@/lib/db/schema";
import { parseConfigText } from "@/lib/config/load";
import type { LumenConfig } from "@/lib/config/schema";
import { findModel } from "@/lib/config/resolve";
import { grantConsent } from "@/lib/access/consent";
import { costOf } from "@/lib/coins/cost";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { accountingTotals } from "@/lib/coins/audit";
import { EndpointRegistry } from "@/lib/gateway/endpoints";
import { KeyCache } from "@/lib/gateway/auth";
import { createGateway, type Gateway, type RequestRecord } from "@/lib/gateway/pipeline";
import { backends, useBackend } from "../helpers/backend";
import { serveGateway } from "../helpers/gateway-rig";
import { sleep, type FakeUpstream } from "../helpers/fake-upstream";
import { startApiUpstream, UPSTREAM_KEY } from "../helpers/upstream-api";
import { deadPort } from "../helpers/net";
import { insertClient, viewerFor } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "gateway-test-secret-0123456789-abcdefgh";

const configText = (up: string, dead: number) => `
app: {base_url: "http://lumen.test"}
admins: [admin@example.com]
api: {require_consent: true, upstream_timeout_s: 1.5}
defaults: {model_access: blocked}
clients:
  default: {max: 0}
  acme: {max: 100, refresh: 0, starting: 100, model_access: {default: allowed, blocked: [secret]}}
  broke: {max: 10, refresh: 1, starting: 0, model_access: {default: allowed}}
  nopool: {model_access: {default: allowed}}
  sleepy: {max: 100, starting: 100, model_access: {default: allowed}}
models:
  - {name: echo, input_cost_per_million: 0.5, output_cost_per_million: 1.0, max_output_tokens: 64, endpoints: [{url: "builtin:echo"}]}
  - {name: org/echo-large, input_cost_per_million: 2, output_cost_per_million: 3, endpoints: [{url: "builtin:echo", latency_ms: 40, chunk_delay_ms: 5}]}
  - {name: secret, endpoints: [{url: "builtin:echo"}]}
  - {name: gated, needs_ack: true, ack_message: "Be careful.", endpoints: [{url: "builtin:echo"}]}
  - {name: off, disabled: true, endpoints: [{url: "builtin:echo"}]}
  - {name: bad/ok, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", api_key: "${UPSTREAM_KEY}", model: ok}]}
  - {name: bad/nousage, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: nousage}]}
  - {name: bad/400, endpoints: [{url: "${up}", api_key: "${UPSTREAM_KEY}", model: fail-400}]}
  - {name: bad/500, endpoints: [{url: "${up}", model: fail-500}]}
  - {name: bad/hang, endpoints: [{url: "${up}", model: hang}]}
  - {name: bad/drop, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: drop}]}
  - {name: bad/stall, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: stall}]}
  - {name: bad/slow, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: slow}]}
  - {name: bad/emb, input_cost_per_million: 1, endpoints: [{url: "${up}", model: emb}]}
  - {name: retry, input_cost_per_million: 1, output_cost_per_million: 2, endpoints: [{url: "${up}", model: conn-reset}, {url: "${up}", model: ok}]}
  - {name: unlisted, endpoints: [{url: "${up}", model: not-served-here}]}
  - {name: down, endpoints: [{url: "http://127.0.0.1:${dead}/v1"}]}
`;

// ---------------------------------------------------------------------------

describe.each(backends())("gateway over HTTP on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let config: LumenConfig;
  let upstream: FakeUpstream;
  let gw: Gateway;
  let server: Awaited<ReturnType<typeof serveGateway>>;
  let base: string;
  const settled: RequestRecord[] = [];
  const ids = {} as Record<"acme" | "broke" | "nopool" | "sleepy", string>;
  const keys = {} as Record<"acme" | "broke" | "nopool" | "sleepy" | "revoked", string>;
  let acmeKeyId: string;

  const openai = (key = keys.acme) => new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 15_000 });
  const model = (name: string) => findModel(config, name)!;

  const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${keys.acme}` }) =>
    fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  const expectError = async (res: Response, status: number, code: string, param?: string | null) => {
    const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
    expect(res.status).toBe(status);
    expect(json.error.code).toBe(code);
    expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
    if (param !== undefined) expect(json.error.param).toBe(param);
    expect(json.error.message).not.toMatch(/sk_|sk-|at \w+ \(|127\.0\.0\.1|upstream-secret/);
    return json.error;
  };

  const logRows = (clientId: string) =>
    db.select().from(requestLog).where(eq(requestLog.clientId, clientId)).orderBy(desc(requestLog.id));
  const lastLog = async (clientId: string) => (await logRows(clientId))[0];
  const logCount = async (clientId: string) => (await logRows(clientId)).length;
  const balance = async (clientId: string) =>
    (await db.select({ b: sql<string>`${coinPools.balance}::text` }).from(coinPools).where(eq(coinPools.clientId, clientId)))[0]?.b;
  const waitFor = async <T>(fn: () => Promise<T | undefined | null | false>, ms = 5000): Promise<T> => {
    const until = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > until) throw new Error("condition not met in time");
      await sleep(20);
    }
  };

  beforeAll(async () => {
    upstream = await startApiUpstream();
    config = parseConfigText(configText(upstream.url, await deadPort()), "test-config.yaml").config;
    for (const name of ["acme", "broke", "nopool", "sleepy"] as const) {
      const c = await insertClient(db, name, { active: name !== "sleepy" });
      ids[name] = c.id;
      const k = await insertKey(db, c.id, "main");
      keys[name] = k.plaintext;
      if (name === "acme") acmeKeyId = k.row.id;
    }
    keys.revoked = (await insertKey(db, ids.acme, "old", { revokedAt: new Date() })).plaintext;
    const getDb = async () => db;
    const getConfig = () => config;
    gw = createGateway({
      getDb,
      getConfig,
      keyCache: null,
      endpoints: new EndpointRegistry({ getDb, getConfig, checkTimeoutMs: 1000 }),
      hooks: { settled: (e) => settled.push(e) },
    });
    server = await serveGateway(gw);
    base = server.url;
  });

  afterAll(async () => {
    gw?.close();
    await server?.close();
    await upstream?.close();
  });

  describe("happy paths with the openai client", () => {
    it("lists the models this key may use now", async () => {
      const list = await openai().models.list();
      const names = list.data.map((m) => m.id);
      expect(names).toContain("echo");
      expect(names).toContain("org/echo-large");
      expect(names).toContain("bad/ok");
      expect(names).not.toContain("secret"); // blocked for acme
      expect(names).not.toContain("gated"); // needs consent
      expect(names).not.toContain("off"); // disabled
      expect(list.data[0]).toMatchObject({ object: "model", owned_by: "lumen" });
      expect((await openai(keys.nopool).models.list()).data).toEqual([]);
    });

    it("retrieves a model whose name contains a slash, and 404s the others", async () => {
      const m = await openai().models.retrieve("org/echo-large");
      expect(m.id).toBe("org/echo-large");
      const raw = await fetch(`${base}/v1/models/org/echo-large`, { headers: { authorization: `Bearer ${keys.acme}` } });
      expect(((await raw.json()) as { id: string }).id).toBe("org/echo-large");
      await expect(openai().models.retrieve("secret")).rejects.toMatchObject({ status: 404, code: "model_not_found" });
      await expect(openai().models.retrieve("nope/nothing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it("answers a non-streaming chat completion from the echo model, billed to the exact coin", async () => {
      const before = settled.length;
      const res = await openai().chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello world" }] });
      expect(res.choices[0]?.message.content).toBe("Echo: hello world");
      expect(res.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({
        keyId: acmeKeyId,
        model: "echo",
        endpoint: "builtin:echo",
        status: 200,
        inputTokens: 3,
        outputTokens: 3,
        coins: "0.000005", // (3 × 0.5 + 3 × 1.0) / 1e6 = 0.0000045, rounded half-up
        streamed: false,
        usageEstimated: false,
        ttftMs: null,
      });
      expect(settled.length).toBe(before + 1);
      expect(await balance(ids.acme)).toBe("99.999995");
    });

    it("honours max_tokens and forwards extra fields untouched, with the endpoint's key and model id", async () => {
      const res = await openai().chat.completions.create({
        model: "echo",
        messages: [{ role: "user", content: "one two three four five" }],
        max_tokens: 2,
      });
      expect(res.choices[0]?.message.content).toBe("Echo: one");
      expect(res.choices[0]?.finish_reason).toBe("length");

      const n = upstream.seen.length;
      const params = {
        model: "bad/ok",
        messages: [{ role: "user" as const, content: "hi" }],
        temperature: 0.25,
        seed: 7,
        logit_bias: { "50256": -100 },
        metadata: { team: "blue" },
        x_custom: { nested: [1, 2, 3] },
      };
      const out = await openai().chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
      expect(out.choices[0]?.message.content).toBe("Hello from upstream");
      const got = upstream.seen[n]!;
      expect(got.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      // Untouched but for the output limit Lumen always sends (bad/ok has no max_output_tokens: 4,096).
      expect(got.body).toEqual({ ...params, model: "ok", max_tokens: 4096 });
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({ model: "bad/ok", status: 200, inputTokens: 21, outputTokens: 3, usageEstimated: false });
      expect(row?.coins).toBe(costOf(model("bad/ok"), 21, 3));
      expect(row?.endpoint).toBe(upstream.url);
    });

    it("streams without include_usage: usage requested upstream, never forwarded", async () => {
      const n = upstream.seen.length;
      const stream = await openai().chat.completions.create({ model: "bad/ok", messages: [{ role: "user", content: "hi" }], stream: true });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from upstream");
      expect(chunks.every((c) => !c.usage)).toBe(true);
      expect(upstream.seen[n]?.body.stream_options).toEqual({ include_usage: true });
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.streamed ? r : undefined;
      });
      expect(row).toMatchObject({ model: "bad/ok", status: 200, inputTokens: 21, outputTokens: 3, streamed: true, usageEstimated: false });
      expect(row.ttftMs).not.toBeNull();
    });

    it("streams with include_usage: the usage chunk is forwarded", async () => {
      const stream = await openai().chat.completions.create({
        model: "org/echo-large",
        messages: [{ role: "system", content: "be brief" }, { role: "user", content: "stream me please" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
      expect(text).toBe("Echo: stream me please");
      const usage = chunks.find((c) => c.usage)?.usage;
      expect(usage).toEqual({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({ model: "org/echo-large", status: 200, inputTokens: 6, outputTokens: 4, streamed: true, usageEstimated: false });
      expect(row?.coins).toBe(costOf(model("org/echo-large"), 6, 4));
      expect(row?.ttftMs).toBeGreaterThanOrEqual(35); // latency_ms: 40 before the first token
    });

    it("estimates (and marks) usage when the upstream reports none", async () => {
      const out = await openai().chat.completions.create({ model: "bad/nousage", messages: [{ role: "user", content: "Lincoln?" }] });
      expect(out.usage).toBeUndefined();
      const row = await lastLog(ids.acme);
      // prompt "Lincoln?" = 8 chars → 2; answer "four score and seven years" = 26 chars → 7
      expect(row).toMatchObject({ model: "bad/nousage", inputTokens: 2, outputTokens: 7, usageEstimated: true, status: 200 });
      expect(row?.coins).toBe(costOf(model("bad/nousage"), 2, 7));
    });

    it("answers embeddings (base64 by default in the SDK, and floats), billed on input tokens", async () => {
      const res = await openai().embeddings.create({ model: "echo", input: ["alpha beta", "gamma"] });
      expect(res.data).toHaveLength(2);
      expect(res.data[0]?.embedding).toHaveLength(8);
      const norm = Math.hypot(...res.data[0]!.embedding);
      expect(norm).toBeCloseTo(1, 5);
      const again = await openai().embeddings.create({ model: "echo", input: ["alpha beta", "gamma"], encoding_format: "float" });
      expect(again.data[0]?.embedding[0]).toBeCloseTo(res.data[0]!.embedding[0]!, 5); // deterministic
      expect(res.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 }); // ceil(10/4) + ceil(5/4)
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({ model: "echo", inputTokens: 5, outputTokens: 0, status: 200, usageEstimated: false });
      expect(row?.coins).toBe(costOf(model("echo"), 5, 0));

      const n = upstream.seen.length;
      const up = await openai().embeddings.create({ model: "bad/emb", input: "x", encoding_format: "float" });
      expect(up.data[0]?.embedding).toEqual([0.5, 0.5]);
      expect(upstream.seen[n]).toMatchObject({ path: "/embeddings", body: { model: "emb", input: "x" } });
      expect(await lastLog(ids.acme)).toMatchObject({ model: "bad/emb", inputTokens: 11, coins: costOf(model("bad/emb"), 11, 0) });
    });

    it("retries a connection failure once on the next healthy endpoint", async () => {
      const n = upstream.seen.length;
      // Round-robin over [conn-reset, ok]: across four requests some start on the resetting endpoint;
      // every one must still succeed exactly once on "ok" (one retry, never a double answer).
      for (let i = 0; i < 4; i++) {
        const out = await openai().chat.completions.create({ model: "retry", messages: [{ role: "user", content: "again" }] });
        expect(out.choices[0]?.message.content).toBe("Hello from upstream");
      }
      const attempts = upstream.seen.slice(n).map((s) => s.body.model);
      expect(attempts).toContain("conn-reset");
      expect(attempts.filter((m) => m === "ok")).toHaveLength(4);
    });
  });

  describe("the error table", () => {
    const chat = { model: "echo", messages: [{ role: "user", content: "hi" }] };

    it("401 missing_api_key: no header, another scheme, empty bearer", async () => {
      await expectError(await post("/v1/chat/completions", chat, {}), 401, "missing_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: "Basic abc" }), 401, "missing_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: "Bearer   " }), 401, "missing_api_key");
      await expectError(await fetch(`${base}/v1/models`), 401, "missing_api_key");
    });

    it("the bearer scheme is case-insensitive", async () => {
      const res = await post("/v1/chat/completions", chat, { authorization: `bearer ${keys.acme}` });
      expect(res.status).toBe(200);
    });

    it("401 invalid_api_key: unknown key, revoked key", async () => {
      const fake = `sk_${"A".repeat(43)}`;
      await expectError(await post("/v1/chat/completions", chat, { authorization: `Bearer ${fake}` }), 401, "invalid_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: "Bearer not-even-a-key" }), 401, "invalid_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: `Bearer ${keys.revoked}` }), 401, "invalid_api_key");
      await expect(openai(keys.revoked).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });

    it("403 client_deactivated", async () => {
      const err = await expectError(
        await post("/v1/chat/completions", chat, { authorization: `Bearer ${keys.sleepy}` }),
        403,
        "client_deactivated",
      );
      expect(err.type).toBe("permission_error");
    });

    it("400 invalid_body: malformed JSON, wrong types and missing fields name the field", async () => {
      await expectError(await post("/v1/chat/completions", '{"model": "echo", '), 400, "invalid_body", null);
      await expectError(await post("/v1/chat/completions", "[1,2]"), 400, "invalid_body", null);
      await expectError(await post("/v1/chat/completions", ""), 400, "invalid_body", null);
      await expectError(await post("/v1/chat/completions", { ...chat, max_tokens: "ten" }), 400, "invalid_body", "max_tokens");
      await expectError(await post("/v1/chat/completions", { ...chat, max_tokens: 0 }), 400, "invalid_body", "max_tokens");
      await expectError(await post("/v1/chat/completions", { ...chat, stream: "yes" }), 400, "invalid_body", "stream");
      await expectError(await post("/v1/chat/completions", { ...chat, model: 42 }), 400, "invalid_body", "model");
      await expectError(await post("/v1/chat/completions", { messages: chat.messages }), 400, "invalid_body", "model");
      const missing = await expectError(await post("/v1/chat/completions", { model: "echo" }), 400, "invalid_body", "messages");
      expect(missing.message).toContain("'messages' is required");
      await expectError(await post("/v1/chat/completions", { model: "echo", messages: [] }), 400, "invalid_body", "messages");
      await expectError(await post("/v1/chat/completions", { model: "echo", messages: "hi" }), 400, "invalid_body", "messages");
      await expectError(
        await post("/v1/chat/completions", { model: "echo", messages: [{ content: "no role" }] }),
        400,
        "invalid_body",
        "messages[0].role",
      );
      await expectError(await post("/v1/embeddings", { model: "echo", input: 5 }), 400, "invalid_body", "input");
      await expectError(await post("/v1/embeddings", { model: "echo" }), 400, "invalid_body", "input");
      await expect(
        openai().chat.completions.create({ model: "echo", messages: [] }),
      ).rejects.toMatchObject({ status: 400, code: "invalid_body", param: "messages" });
    });

    it("413 invalid_body for a 20 MB body, with or without Content-Length", async () => {
      const big = JSON.stringify({ ...chat, padding: "x".repeat(20 * 1024 * 1024) });
      await expectError(await post("/v1/chat/completions", big), 413, "invalid_body");

      // Chunked (no Content-Length): the reader stops at 10 MB.
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${base}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json", "transfer-encoding": "chunked" },
        });
        req.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        const piece = "x".repeat(1024 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < 20) {
            sent++;
            if (!req.write(piece)) return void req.once("drain", pump);
          }
          req.end();
        };
        pump();
      });
      expect(status).toBe(413);
    });

    it("404 model_not_found: unknown or disabled model", async () => {
      await expectError(await post("/v1/chat/completions", { ...chat, model: "nope" }), 404, "model_not_found");
      await expectError(await post("/v1/chat/completions", { ...chat, model: "off" }), 404, "model_not_found");
      await expectError(await post("/v1/embeddings", { model: "off", input: "x" }), 404, "model_not_found");
    });

    it("403 model_not_allowed: blocked model, client without a pool; counted as refusals", async () => {
      const refusals = async (id: string) => (await db.select().from(clients).where(eq(clients.id, id)))[0]?.refusals;
      const before = await refusals(ids.acme);
      await expectError(await post("/v1/chat/completions", { ...chat, model: "secret" }), 403, "model_not_allowed");
      expect(await refusals(ids.acme)).toBe(Number(before) + 1);
      await expectError(
        await post("/v1/chat/completions", chat, { authorization: `Bearer ${keys.nopool}` }),
        403,
        "model_not_allowed",
      );
      expect(await logCount(ids.nopool)).toBe(0);
    });

    it("403 consent_required until a manager consents, then allowed", async () => {
      const err = await expectError(await post("/v1/chat/completions", { ...chat, model: "gated" }), 403, "consent_required");
      expect(err.message).toContain(`http://lumen.test/clients/${ids.acme}`);
      expect((await openai().models.list()).data.map((m) => m.id)).not.toContain("gated");

      const admin = await viewerFor(db, "admin@example.com", true);
      await grantConsent(db, admin, ids.acme, "gated", config);
      const ok = await post("/v1/chat/completions", { ...chat, model: "gated" });
      expect(ok.status).toBe(200);
      expect((await openai().models.list()).data.map((m) => m.id)).toContain("gated");
      await openai().models.retrieve("gated");
    });

    it("429 insufficient_quota with Retry-After when the pool is exhausted; nothing logged", async () => {
      const res = await post("/v1/chat/completions", chat, { authorization: `Bearer ${keys.broke}` });
      const retryAfter = Number(res.headers.get("retry-after"));
      const err = await expectError(res, 429, "insufficient_quota");
      expect(err.type).toBe("insufficient_quota");
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(await logCount(ids.broke)).toBe(0);
      expect((await db.select().from(clients).where(eq(clients.id, ids.broke)))[0]?.refusals).toBeGreaterThan(0);
      await expect(openai(keys.broke).chat.completions.create(chat as OpenAI.ChatCompletionCreateParamsNonStreaming)).rejects.toBeInstanceOf(
        OpenAI.RateLimitError,
      );
    });

    it("503 no_healthy_endpoint: nothing listening, or the expected id not listed; the reservation is returned", async () => {
      const before = await balance(ids.acme);
      const logged = await logCount(ids.acme);
      await expectError(await post("/v1/chat/completions", { ...chat, model: "down" }), 503, "no_healthy_endpoint");
      await expectError(await post("/v1/chat/completions", { ...chat, model: "unlisted" }), 503, "no_healthy_endpoint");
      expect(await balance(ids.acme)).toBe(before);
      expect(await logCount(ids.acme)).toBe(logged);
      const health = await db.select().from(endpoints).where(eq(endpoints.model, "down"));
      expect(health[0]).toMatchObject({ healthy: false, upstreamModel: null });
      expect(health[0]?.lastError).toMatch(/connection failed/);
      const unlisted = await db.select().from(endpoints).where(eq(endpoints.model, "unlisted"));
      expect(unlisted[0]).toMatchObject({ healthy: false, upstreamModel: "not-served-here" });
    });

    it("upstream 400 is passed through (status, message, type) with secrets redacted; recorded at zero cost", async () => {
      const err = await expectError(await post("/v1/chat/completions", { ...chat, model: "bad/400" }), 400, "bad_temperature", "temperature");
      expect(err.type).toBe("invalid_request_error");
      expect(err.message).toMatch(/^Invalid temperature \(key \[redacted\] at \[redacted\]\)$/);
      expect(await lastLog(ids.acme)).toMatchObject({ model: "bad/400", status: 400, inputTokens: 0, outputTokens: 0, coins: "0.000000" });
    });

    it("upstream 500 → 502 upstream_error with a generic message; recorded at zero cost", async () => {
      const err = await expectError(await post("/v1/chat/completions", { ...chat, model: "bad/500" }), 502, "upstream_error");
      expect(err.message).not.toContain("Traceback");
      expect(await lastLog(ids.acme)).toMatchObject({ model: "bad/500", status: 502, coins: "0.000000", errorCode: "upstream_error" });
    });

    it("an upstream that hangs → 502 after upstream_timeout_s; recorded at zero cost", async () => {
      const started = Date.now();
      await expectError(await post("/v1/chat/completions", { ...chat, model: "bad/hang" }), 502, "upstream_error");
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(await lastLog(ids.acme)).toMatchObject({ model: "bad/hang", status: 502, coins: "0.000000", errorCode: "upstream_timeout" });
    });

    it("an upstream that drops the connection mid-stream: the caller gets an error, the streamed tokens are billed", async () => {
      const stream = await openai().chat.completions.create({ model: "bad/drop", messages: [{ role: "user", content: "hi" }], stream: true });
      let text = "";
      await expect(
        (async () => {
          for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
        })(),
      ).rejects.toMatchObject({ code: "upstream_error" });
      expect(text).toBe("one two three four five six");
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.model === "bad/drop" ? r : undefined;
      });
      // prompt "hi" → 1 token; 27 streamed characters → 7 tokens
      expect(row).toMatchObject({ status: 502, streamed: true, usageEstimated: true, inputTokens: 1, outputTokens: 7, errorCode: "upstream_error" });
      expect(row.coins).toBe(costOf(model("bad/drop"), 1, 7));
    });

    it("an upstream that stalls mid-stream times out: error event, streamed tokens billed", async () => {
      const res = await post("/v1/chat/completions", { ...chat, model: "bad/stall", stream: true });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("partial answer");
      expect(text).toContain('"code":"upstream_error"');
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({ model: "bad/stall", status: 502, errorCode: "upstream_timeout", inputTokens: 1, outputTokens: 4 });
    });

    it("a caller that aborts mid-stream: the upstream request is aborted and prompt + streamed tokens are billed", async () => {
      const n = upstream.seen.length;
      const stream = await openai().chat.completions.create({
        model: "bad/slow",
        messages: [{ role: "user", content: "count slowly please" }],
        stream: true,
      });
      let text = "";
      let chunks = 0;
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? "";
        if (++chunks === 5) break; // leaving the loop aborts the request
      }
      expect(text).toBe(" word0 word1 word2 word3 word4");
      expect(await upstream.seen[n]!.closed).toBe(true);
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.model === "bad/slow" ? r : undefined;
      });
      expect(row).toMatchObject({ status: 499, streamed: true, usageEstimated: true, errorCode: "client_closed", inputTokens: 5 });
      // at least what the caller saw (30 chars → 8 tokens), at most a few chunks more in flight
      expect(row.outputTokens).toBeGreaterThanOrEqual(8);
      expect(row.outputTokens).toBeLessThan(30);
      expect(row.coins).toBe(costOf(model("bad/slow"), row.inputTokens, row.outputTokens));
    });

    it("a caller that gives up on a non-streaming request: the upstream call is aborted, the prompt is billed", async () => {
      const n = upstream.seen.length;
      const controller = new AbortController();
      const pending = fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "bad/hang", messages: [{ role: "user", content: "are you there?" }] }),
        signal: controller.signal,
      });
      await waitFor(async () => upstream.seen.length > n);
      controller.abort();
      await expect(pending).rejects.toThrow();
      expect(await upstream.seen[n]!.closed).toBe(true);
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.model === "bad/hang" && r.status === 499 ? r : undefined;
      });
      // never nothing: "are you there?" = 14 characters → 4 tokens
      expect(row).toMatchObject({ inputTokens: 4, outputTokens: 0, usageEstimated: true, errorCode: "client_closed", streamed: false });
    });

    it("405 in the envelope for other methods", async () => {
      const res = await fetch(`${base}/v1/chat/completions`, { headers: { authorization: `Bearer ${keys.acme}` } });
      expect(res.headers.get("allow")).toBe("POST");
      await expectError(res, 405, "method_not_allowed");
    });
  });

  describe("accounting", () => {
    it("Σ request log = client counters = Σ key counters = Σ model counters, and the pool to the exact coin", async () => {
      await waitFor(async () => (await db.select().from(coinReservations).where(eq(coinReservations.clientId, ids.acme))).length === 0);
      const totals = await accountingTotals(db, ids.acme);
      expect(Number(totals.requestLog.requests)).toBeGreaterThan(10);
      expect(totals.clients).toEqual(totals.requestLog);
      expect(totals.apiKeys).toEqual(totals.requestLog);
      expect(totals.clientModelUsage).toEqual(totals.requestLog);
      expect(totals.clientDailyUsage).toEqual(totals.requestLog);
      expect(await balance(ids.acme)).toBe(formatMicro(parseCoins("100") - parseCoins(totals.requestLog.coins)));

      const [key] = await db.select().from(apiKeys).where(eq(apiKeys.id, acmeKeyId));
      const [client] = await db.select().from(clients).where(eq(clients.id, ids.acme));
      expect(key?.requests).toBe(client?.requests);
      const [echoUsage] = await db
        .select()
        .from(clientModelUsage)
        .where(and(eq(clientModelUsage.clientId, ids.acme), eq(clientModelUsage.model, "echo")));
      const echoLog = (await logRows(ids.acme)).filter((r) => r.model === "echo");
      expect(echoUsage?.requests).toBe(echoLog.length);
      expect(echoUsage?.coinsSpent).toBe(formatMicro(echoLog.reduce((s, r) => s + parseCoins(r.coins), 0n)));
    });

    it("concurrent requests against a small pool: refused once empty, and the pool equals the log exactly", async () => {
      const tight = await insertClient(db, "tight");
      const key = await insertKey(db, tight.id, "burst");
      const small = parseConfigText(
        configText(upstream.url, 1).replace("clients:\n", "clients:\n  tight: {max: 0.0001, refresh: 0, starting: 0.0001, model_access: {default: allowed}}\n"),
        "test-config.yaml",
      ).config;
      const previous = config;
      config = small;
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
        await waitFor(async () => (await db.select().from(coinReservations).where(eq(coinReservations.clientId, tight.id))).length === 0);
        const totals = await accountingTotals(db, tight.id);
        expect(Number(totals.requestLog.requests)).toBe(statuses.filter((s) => s === 200).length);
        expect(totals.clients).toEqual(totals.requestLog);
        expect(totals.apiKeys).toEqual(totals.requestLog);
        expect(totals.clientModelUsage).toEqual(totals.requestLog);
        expect(await balance(tight.id)).toBe(formatMicro(parseCoins("0.0001") - parseCoins(totals.requestLog.coins)));
      } finally {
        config = previous;
      }
    });

    it('"after-answer" settlement: the answer leaves first, idle() waits for the log row', async () => {
      const getDb = async () => db;
      const fast = createGateway({ getDb, getConfig: () => config, settleMode: "after-answer" });
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
      const getDb = async () => db;
      const cached = createGateway({
        getDb,
        getConfig: () => config,
        keyCache: new KeyCache(),
        endpoints: new EndpointRegistry({ getDb, getConfig: () => config }),
      });
      const srv = await serveGateway(cached);
      try {
        const k = await insertKey(db, ids.acme, "short-lived");
        const call = () =>
          fetch(`${srv.url}/v1/models`, { headers: { authorization: `Bearer ${k.plaintext}` } }).then((r) => r.status);
        expect(await call()).toBe(200);
        await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, k.row.id));
        await sleep(1000);
        expect(await call()).toBe(401);
      } finally {
        cached.close();
        await srv.close();
      }
    });
  });
});
