import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";

// The official openai client against Lumen's server (server.ts, the same server the browser tests use).
const client = () => new OpenAI({ baseURL: `${inject("baseURL")}/v1`, apiKey: inject("apiKey"), maxRetries: 0 });

describe("/v1 through the Lumen server with the openai client", () => {
  it("lists the models the key may use", async () => {
    const models = await client().models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain("echo");
    expect((await client().models.retrieve("echo")).id).toBe("echo");
    await expect(client().models.retrieve("no/such/model")).rejects.toMatchObject({ status: 404 });
  });

  it("answers a chat completion with usage", async () => {
    const r = await client().chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hello gateway" }] });
    expect(r.choices[0]?.message.content).toContain("hello gateway");
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("streams, forwarding the usage chunk only when asked", async () => {
    let text = "";
    let usageChunks = 0;
    for await (const chunk of await client().chat.completions.create({
      model: "echo",
      stream: true,
      messages: [{ role: "user", content: "one two three" }],
    })) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usageChunks++;
    }
    expect(text).toContain("one two three");
    expect(usageChunks).toBe(0);
    const withUsage = await client().chat.completions.create({
      model: "echo",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "one two three" }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of withUsage) usage = chunk.usage ?? usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("embeds", async () => {
    const r = await client().embeddings.create({ model: "echo", input: ["a", "b"] });
    expect(r.data).toHaveLength(2);
    expect(r.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("answers errors in OpenAI's envelope", async () => {
    const bad = new OpenAI({ baseURL: `${inject("baseURL")}/v1`, apiKey: "sk_nope", maxRetries: 0 });
    await expect(bad.models.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    await expect(
      client().chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    const res = await fetch(`${inject("baseURL")}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${inject("apiKey")}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("invalid_body");
    const big = await fetch(`${inject("baseURL")}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${inject("apiKey")}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "x".repeat(20 * 1024 * 1024) }] }),
    });
    expect(big.status).toBe(413);
    const none = await fetch(`${inject("baseURL")}/v1/models`);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe("missing_api_key");
  });

  it("keeps /metrics off unless configured", async () => {
    expect((await fetch(`${inject("baseURL")}/metrics`)).status).toBe(404);
  });
});
