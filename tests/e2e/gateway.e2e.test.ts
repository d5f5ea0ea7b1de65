import OpenAI, { toFile } from "openai";
import { describe, expect, inject, it } from "vitest";
import { wavFile } from "../helpers/audio";
import { hydrated, launch, newContext, signIn } from "./browser";
import { USERS } from "./fixtures";

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

  it("legacy completions: JSON and streaming", async () => {
    const out = await client().completions.create({ model: "echo", prompt: "complete me", max_tokens: 2 });
    expect(out.choices[0]).toMatchObject({ text: "Echo: complete", finish_reason: "length" });
    expect(out.usage?.completion_tokens).toBe(2);
    let text = "";
    for await (const c of await client().completions.create({ model: "echo", prompt: "stream it", stream: true })) text += c.choices[0]?.text ?? "";
    expect(text).toBe("Echo: stream it");
  });

  it("the Responses API: create, create with stream, and the stream helper", async () => {
    const r = await client().responses.create({ model: "echo", input: "respond please" });
    expect(r.output_text).toBe("Echo: respond please");
    expect(r.usage?.output_tokens).toBe(3);
    const types: string[] = [];
    for await (const e of await client().responses.create({ model: "echo", input: "typed events", stream: true })) types.push(e.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    const final = await client().responses.stream({ model: "echo", input: "helper" }).finalResponse();
    expect(final.status).toBe("completed");
    expect(final.usage?.output_tokens).toBe(2);
  });

  it("audio: a transcription and a translation of a WAV, billed per second, shown on the client's page", async () => {
    const wav = wavFile(2.25);
    const t = await client().audio.transcriptions.create({ file: await toFile(wav, "meeting.wav"), model: "echo" });
    expect(t.text).toBe("Echo transcription of meeting.wav: 2.250 seconds of audio.");
    const tr = await client().audio.translations.create({ file: await toFile(wav, "meeting.wav"), model: "echo", response_format: "text" });
    expect(tr).toBe("Echo translation of meeting.wav: 2.250 seconds of audio.\n");
    await expect(client().audio.transcriptions.create({ file: await toFile(Buffer.alloc(26 * 1024 * 1024), "big.wav"), model: "echo" })).rejects.toMatchObject({ status: 413 });

    const browser = await launch();
    try {
      const page = await (await newContext(browser)).newPage();
      await signIn(page, USERS.admin, `/clients/${inject("clientIds")["research-bot"]}`);
      await hydrated(page);
      // 3 s (usage, rounded up) + 2.25 s (a text answer: the file's own duration)
      await expect(page.getByTestId("usage-audio-seconds").innerText()).resolves.toBe("5.3 s");
      await expect(page.getByTestId("model-audio-echo").innerText()).resolves.toBe("5.3 s of audio");
      await expect(page.getByTestId("rate-limits-client").innerText()).resolves.toContain("10,000 requests/min");
      await expect(page.getByTestId("rate-limits-key").innerText()).resolves.toContain("50 in flight");
    } finally {
      await browser.close();
    }
  });

  it("every answer carries x-request-id, x-lumen-overhead-ms and, with limits, OpenAI's rate-limit headers", async () => {
    const { response } = await client().chat.completions.create({ model: "echo", messages: [{ role: "user", content: "h" }] }).withResponse();
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(response.headers.get("x-lumen-overhead-ms"))).toBeGreaterThanOrEqual(0);
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("10000");
    expect(Number(response.headers.get("x-ratelimit-remaining-requests"))).toBeLessThan(10000);
    const missing = await fetch(`${inject("baseURL")}/v1/nope`, { headers: { "x-request-id": "mine-1" } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-request-id")).toBe("mine-1");
    expect(missing.headers.get("x-lumen-overhead-ms")).toMatch(/^\d+\.\d{3}$/);
  });

  it("the monitoring token lists every active model and may do nothing else", async () => {
    const monitor = new OpenAI({ baseURL: `${inject("baseURL")}/v1`, apiKey: inject("monitoringToken"), maxRetries: 0 });
    const ids = (await monitor.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(["echo", "secure-llm"]));
    expect((await monitor.models.retrieve("secure-llm")).id).toBe("secure-llm");
    await expect(monitor.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({
      status: 403,
      type: "permission_error",
    });
  });

  it("keeps /metrics off unless configured", async () => {
    expect((await fetch(`${inject("baseURL")}/metrics`)).status).toBe(404);
  });
});
