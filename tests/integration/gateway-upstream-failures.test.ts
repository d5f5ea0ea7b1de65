/**
 * The gateway over real HTTP against a misbehaving upstream (tests/helpers/upstream-api.ts) and a
 * caller that gives up: upstream 400 passed through with secrets redacted, 500 and timeouts as 502,
 * dropped and stalled streams, aborted requests — and what each of them bills.
 */
import { describe, expect, it } from "vitest";
import { costOf } from "@/lib/coins/cost";
import { backends } from "../helpers/backend";
import { useGatewayWorld } from "../helpers/gateway-world";

process.env.LUMEN_SECRET = "gateway-upstream-failures-secret-0123456789-abcdefgh";

describe.each(backends())("gateway over HTTP, upstream and caller failures, on $name", (backend) => {
  const { rig, ids, keys, openai, post, expectError, lastLog, waitFor } = useGatewayWorld(backend);

  describe("the error table", () => {
    const chat = { model: "echo", messages: [{ role: "user", content: "hi" }] };

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
      expect(row.coins).toBe(costOf(rig.model("bad/drop"), 1, 7));
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
      const n = rig.upstream.seen.length;
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
      expect(await rig.upstream.seen[n]!.closed).toBe(true);
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.model === "bad/slow" ? r : undefined;
      });
      expect(row).toMatchObject({ status: 499, streamed: true, usageEstimated: true, errorCode: "client_closed", inputTokens: 5 });
      // at least what the caller saw (30 chars → 8 tokens), at most a few chunks more in flight
      expect(row.outputTokens).toBeGreaterThanOrEqual(8);
      expect(row.outputTokens).toBeLessThan(30);
      expect(row.coins).toBe(costOf(rig.model("bad/slow"), row.inputTokens, row.outputTokens));
    });

    it("a caller that gives up on a non-streaming request: the upstream call is aborted, the prompt is billed", async () => {
      const n = rig.upstream.seen.length;
      const controller = new AbortController();
      const pending = fetch(`${rig.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${keys.acme}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "bad/hang", messages: [{ role: "user", content: "are you there?" }] }),
        signal: controller.signal,
      });
      await waitFor(async () => rig.upstream.seen.length > n);
      controller.abort();
      await expect(pending).rejects.toThrow();
      expect(await rig.upstream.seen[n]!.closed).toBe(true);
      const row = await waitFor(async () => {
        const r = await lastLog(ids.acme);
        return r?.model === "bad/hang" && r.status === 499 ? r : undefined;
      });
      // never nothing: "are you there?" = 14 characters → 4 tokens
      expect(row).toMatchObject({ inputTokens: 4, outputTokens: 0, usageEstimated: true, errorCode: "client_closed", streamed: false });
    });

  });
});
