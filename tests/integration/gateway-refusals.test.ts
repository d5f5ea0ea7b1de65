/**
 * The gateway's error table over real HTTP: every refusal before the upstream call (401, 403, 400,
 * 413, 404, 429, 503, 405) in the OpenAI envelope, with nothing internal in the message and what is
 * counted or logged for each.
 */
import http from "node:http";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import OpenAI from "openai";
import { clients, endpoints } from "@/lib/db/schema";
import { grantConsent } from "@/lib/access/consent";
import { backends } from "../helpers/backend";
import { useGatewayWorld } from "../helpers/gateway-world";
import { viewerFor } from "../helpers/fixtures";

process.env.LUMEN_SECRET = "gateway-refusals-secret-0123456789-abcdefgh";

describe.each(backends())("gateway over HTTP, refusals, on $name", (backend) => {
  const { rig, ids, keys, openai, post, expectError, logCount, balance } = useGatewayWorld(backend);

  describe("the error table", () => {
    const chat = { model: "echo", messages: [{ role: "user", content: "hi" }] };

    it("401 missing_api_key: no header, another scheme, empty bearer", async () => {
      await expectError(await post("/v1/chat/completions", chat, {}), 401, "missing_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: "Basic abc" }), 401, "missing_api_key");
      await expectError(await post("/v1/chat/completions", chat, { authorization: "Bearer   " }), 401, "missing_api_key");
      await expectError(await fetch(`${rig.url}/v1/models`), 401, "missing_api_key");
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
        const req = http.request(`${rig.url}/v1/chat/completions`, {
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
      const refusals = async (id: string) => (await rig.db.select().from(clients).where(eq(clients.id, id)))[0]?.refusals;
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

      const admin = await viewerFor(rig.db, "admin@example.com", true);
      await grantConsent(rig.db, admin, ids.acme, "gated", rig.config);
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
      expect((await rig.db.select().from(clients).where(eq(clients.id, ids.broke)))[0]?.refusals).toBeGreaterThan(0);
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
      const health = await rig.db.select().from(endpoints).where(eq(endpoints.model, "down"));
      expect(health[0]).toMatchObject({ healthy: false, upstreamModel: null });
      expect(health[0]?.lastError).toMatch(/connection failed/);
      const unlisted = await rig.db.select().from(endpoints).where(eq(endpoints.model, "unlisted"));
      expect(unlisted[0]).toMatchObject({ healthy: false, upstreamModel: "not-served-here" });
    });

    it("405 in the envelope for other methods", async () => {
      const res = await fetch(`${rig.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${keys.acme}` } });
      expect(res.headers.get("allow")).toBe("POST");
      await expectError(res, 405, "method_not_allowed");
    });
  });
});
