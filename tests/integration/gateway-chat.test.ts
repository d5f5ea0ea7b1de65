/**
 * The /v1 gateway over real HTTP, without Next (the rig of tests/helpers/gateway-rig.ts): the happy
 * paths with the official `openai` client — models, chat completions JSON and streamed, usage reported
 * or estimated, embeddings, the retry on a connection failure — each billed to the exact coin.
 * Refusals: gateway-refusals; upstream and caller failures: gateway-upstream-failures; the
 * counters-equal-log audit: gateway-accounting.
 */
import { describe, expect, it } from "vitest";
import OpenAI from "openai";
import { costOf } from "@/lib/coins/cost";
import { type RequestRecord } from "@/lib/gateway/pipeline";
import { backends } from "../helpers/backend";
import { useGatewayWorld } from "../helpers/gateway-world";
import { UPSTREAM_KEY } from "../helpers/upstream-api";

process.env.LUMEN_SECRET = "gateway-chat-secret-0123456789-abcdefgh";

describe.each(backends())("gateway over HTTP, happy paths, on $name", (backend) => {
  const settled: RequestRecord[] = [];
  const { rig, ids, keys, keyIds, openai, lastLog, balance, waitFor } = useGatewayWorld(backend, { hooks: { settled: (e) => settled.push(e) } });

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
      const raw = await fetch(`${rig.url}/v1/models/org/echo-large`, { headers: { authorization: `Bearer ${keys.acme}` } });
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
        keyId: keyIds.acme,
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

      const n = rig.upstream.seen.length;
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
      const got = rig.upstream.seen[n]!;
      expect(got.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      // Untouched but for the output limit Lumen always sends (bad/ok has no max_output_tokens: 4,096).
      expect(got.body).toEqual({ ...params, model: "ok", max_tokens: 4096 });
      const row = await lastLog(ids.acme);
      expect(row).toMatchObject({ model: "bad/ok", status: 200, inputTokens: 21, outputTokens: 3, usageEstimated: false });
      expect(row?.coins).toBe(costOf(rig.model("bad/ok"), 21, 3));
      expect(row?.endpoint).toBe(rig.upstream.url);
    });

    it("streams without include_usage: usage requested upstream, never forwarded", async () => {
      const n = rig.upstream.seen.length;
      const stream = await openai().chat.completions.create({ model: "bad/ok", messages: [{ role: "user", content: "hi" }], stream: true });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello from upstream");
      expect(chunks.every((c) => !c.usage)).toBe(true);
      expect(rig.upstream.seen[n]?.body.stream_options).toEqual({ include_usage: true });
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
      expect(row?.coins).toBe(costOf(rig.model("org/echo-large"), 6, 4));
      expect(row?.ttftMs).toBeGreaterThanOrEqual(35); // latency_ms: 40 before the first token
    });

    it("estimates (and marks) usage when the upstream reports none", async () => {
      const out = await openai().chat.completions.create({ model: "bad/nousage", messages: [{ role: "user", content: "Lincoln?" }] });
      expect(out.usage).toBeUndefined();
      const row = await lastLog(ids.acme);
      // prompt "Lincoln?" = 8 chars → 2; answer "four score and seven years" = 26 chars → 7
      expect(row).toMatchObject({ model: "bad/nousage", inputTokens: 2, outputTokens: 7, usageEstimated: true, status: 200 });
      expect(row?.coins).toBe(costOf(rig.model("bad/nousage"), 2, 7));
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
      expect(row?.coins).toBe(costOf(rig.model("echo"), 5, 0));

      const n = rig.upstream.seen.length;
      const up = await openai().embeddings.create({ model: "bad/emb", input: "x", encoding_format: "float" });
      expect(up.data[0]?.embedding).toEqual([0.5, 0.5]);
      expect(rig.upstream.seen[n]).toMatchObject({ path: "/embeddings", body: { model: "emb", input: "x" } });
      expect(await lastLog(ids.acme)).toMatchObject({ model: "bad/emb", inputTokens: 11, coins: costOf(rig.model("bad/emb"), 11, 0) });
    });

    it("retries a connection failure once on the next healthy endpoint", async () => {
      const n = rig.upstream.seen.length;
      // Round-robin over [conn-reset, ok]: across four requests some start on the resetting endpoint;
      // every one must still succeed exactly once on "ok" (one retry, never a double answer).
      for (let i = 0; i < 4; i++) {
        const out = await openai().chat.completions.create({ model: "retry", messages: [{ role: "user", content: "again" }] });
        expect(out.choices[0]?.message.content).toBe("Hello from upstream");
      }
      const attempts = rig.upstream.seen.slice(n).map((s) => s.body.model);
      expect(attempts).toContain("conn-reset");
      expect(attempts.filter((m) => m === "ok")).toHaveLength(4);
    });
  });
});
