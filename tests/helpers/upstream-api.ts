/**
 * The integration tests' upstream script: every /v1 endpoint (chat, legacy completions, the Responses
 * API, embeddings, audio), answering well ("ok": "Hello from upstream", 21 + 3 tokens) or misbehaving
 * on purpose, chosen by the upstream model id. Served by tests/helpers/fake-upstream.ts.
 */
import { sleep, sseChunk, startFakeUpstream, type Exchange, type FakeUpstream } from "./fake-upstream";

export { sseChunk } from "./fake-upstream";

export const UPSTREAM_KEY = "sk-upstream-secret-4f1e";

export const API_BEHAVIOURS = [
  "ok", "nousage", "fail-400", "fail-500", "hang", "drop", "stall", "slow", "conn-reset", "emb", "overrun", "huge",
  "audio-tokens", "audio-nousage", "audio-overcount",
] as const;

/** "overrun" answers this many times the max_tokens it was sent. */
export const OVERRUN_FACTOR = 10;
/** "huge" answers a JSON body of about this many bytes (unless cut off). */
export const HUGE_ANSWER_BYTES = 4 * 1024 * 1024;

const USAGE = { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 };
const noSuchModel = (x: Exchange) => x.json(404, { error: { message: "no such model", type: "invalid_request_error" } });

/** A Responses API event as upstreams stream it. */
export function responseEvent(type: string, sequence: number, fields: Record<string, unknown>) {
  return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence, ...fields })}\n\n`;
}

/** The fake upstream with the API behaviours. */
export function startApiUpstream(): Promise<FakeUpstream> {
  return startFakeUpstream({ models: API_BEHAVIOURS, script: apiScript });
}

export async function apiScript(x: Exchange): Promise<void> {
  if (x.path === "/embeddings") {
    return x.json(200, { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5, 0.5] }], model: x.model, usage: { prompt_tokens: 11, total_tokens: 11 } });
  }
  if (x.path.startsWith("/audio/")) return audioAnswer(x);
  if (x.path === "/completions" && x.model === "ok") return completionsAnswer(x);
  if (x.path === "/responses") return responsesAnswer(x);
  return chatAnswer(x);
}

async function chatAnswer(x: Exchange): Promise<void> {
  const { model, body, res } = x;
  switch (model) {
    case "ok":
      if (body.stream === true) {
        x.sseHead();
        for (const w of ["Hello", " from", " upstream"]) res.write(sseChunk(model, w, x.wantsUsage ? { usage: null } : {}));
        if (x.wantsUsage) res.write(sseChunk(model, null, { usage: USAGE }));
        return x.end("data: [DONE]\n\n");
      }
      return x.json(200, {
        id: "up-1",
        object: "chat.completion",
        created: 1,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: "Hello from upstream" }, finish_reason: "stop" }],
        usage: USAGE,
      });
    case "nousage":
      return x.json(200, {
        id: "up-2",
        object: "chat.completion",
        created: 1,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: "four score and seven years" }, finish_reason: "stop" }],
      });
    case "fail-400":
      return x.json(400, {
        error: { message: `Invalid temperature (key ${UPSTREAM_KEY} at ${x.url})`, type: "invalid_request_error", param: "temperature", code: "bad_temperature" },
      });
    case "fail-500":
      return x.json(500, { error: { message: "Traceback: /srv/models/secret.py line 12", type: "server_error" } });
    case "hang":
      return; // never answers
    case "drop":
      x.sseHead();
      for (const w of ["one two", " three four", " five six"]) res.write(sseChunk(model, w));
      await sleep(30);
      return void x.req.socket.destroy();
    case "stall":
      x.sseHead();
      res.write(sseChunk(model, "partial answer"));
      return; // then silence until the gateway's timeout
    case "slow":
      x.sseHead();
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        res.write(sseChunk(model, ` word${i}`));
        await sleep(20);
      }
      return x.end("data: [DONE]\n\n");
    case "conn-reset":
      return void x.req.socket.destroy();
    case "overrun": {
      // Ignores max_tokens: answers OVERRUN_FACTOR × the limit it was sent, " tok" (4 bytes, one
      // token) at a time, and reports it honestly.
      const tokens = OVERRUN_FACTOR * Number(body.max_completion_tokens ?? body.max_tokens ?? 16);
      const usage = { prompt_tokens: 5, completion_tokens: tokens, total_tokens: tokens + 5 };
      if (body.stream !== true) {
        return x.json(200, {
          id: "up-over",
          object: "chat.completion",
          created: 1,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: " tok".repeat(tokens) }, finish_reason: "stop" }],
          usage,
        });
      }
      x.sseHead();
      for (let i = 0; i < tokens && !res.destroyed; i++) {
        res.write(sseChunk(model, " tok"));
        if (i % 16 === 15) await sleep(1);
      }
      if (res.destroyed) return;
      res.write(sseChunk(model, null, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
      if (x.wantsUsage) res.write(sseChunk(model, null, { usage }));
      return x.end("data: [DONE]\n\n");
    }
    case "huge": {
      // A chat completion of HUGE_ANSWER_BYTES, chunked (no Content-Length), written with back-pressure.
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"id":"up-huge","object":"chat.completion","created":1,"model":"${model}","choices":[{"index":0,"message":{"role":"assistant","content":"`);
      const piece = "x".repeat(64 * 1024);
      for (let sent = 0; sent < HUGE_ANSWER_BYTES && !res.destroyed; sent += piece.length) {
        if (!res.write(piece)) await new Promise((r) => (res.once("drain", r), res.once("close", r)));
      }
      if (res.destroyed) return;
      return x.end('"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}');
    }
    default:
      return noSuchModel(x);
  }
}

/** Legacy text completions: "ok" only (JSON, or SSE with the usage chunk when asked). */
function completionsAnswer(x: Exchange): void {
  const { model, res } = x;
  if (x.body.stream === true) {
    x.sseHead();
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: "cmpl-up", object: "text_completion", created: 1, model, choices, ...extra })}\n\n`;
    for (const w of ["Hello", " from", " upstream"]) res.write(chunk([{ index: 0, text: w, logprobs: null, finish_reason: null }]));
    res.write(chunk([{ index: 0, text: "", logprobs: null, finish_reason: "stop" }]));
    if (x.wantsUsage) res.write(chunk([], { usage: USAGE }));
    return x.end("data: [DONE]\n\n");
  }
  return x.json(200, {
    id: "cmpl-up",
    object: "text_completion",
    created: 1,
    model,
    choices: [{ index: 0, text: "Hello from upstream", logprobs: null, finish_reason: "stop" }],
    usage: USAGE,
  });
}

/** Audio: "ok" reports seconds, "audio-tokens" tokens, "audio-nousage" nothing, "audio-overcount" an hour. */
function audioAnswer(x: Exchange): void {
  const format = String(x.body.response_format ?? "json");
  const words = `upstream heard ${(x.body.file as { name?: string } | undefined)?.name ?? "nothing"}`;
  if (format === "text" || format === "srt" || format === "vtt") return x.text(200, "text/plain; charset=utf-8", `${words}\n`);
  switch (x.model) {
    case "ok":
      return x.json(200, { text: words, usage: { type: "duration", seconds: 7 } });
    case "audio-overcount":
      return x.json(200, { text: words, usage: { type: "duration", seconds: 3600 } });
    case "audio-tokens":
      return x.json(200, { text: words, usage: { type: "tokens", input_tokens: 40, output_tokens: 6, total_tokens: 46 } });
    case "audio-nousage":
      return x.json(200, format === "verbose_json" ? { task: "transcribe", language: "english", duration: 2.5, text: words, segments: [] } : { text: words });
    case "fail-400":
      return x.json(400, { error: { message: "Unsupported audio", type: "invalid_request_error", param: "file", code: "bad_audio" } });
    default:
      return noSuchModel(x);
  }
}

/** The Responses API: "ok" (JSON or typed events), "nousage", "overrun" (ignores max_output_tokens). */
async function responsesAnswer(x: Exchange): Promise<void> {
  const { model, body, res } = x;
  const usage = { input_tokens: 21, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 24 };
  const message = (text: string) => ({ type: "message", id: "msg_up", status: "completed", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] });
  const response = (extra: Record<string, unknown>) => ({ id: "resp_up", object: "response", created_at: 1, status: "completed", model, output: [], usage: null, ...extra });
  if (body.stream !== true) {
    if (model === "ok") return x.json(200, response({ output: [message("Hello from upstream")], usage }));
    if (model === "nousage") return x.json(200, response({ output: [message("four score and seven years")] }));
    return noSuchModel(x);
  }
  if (model !== "ok" && model !== "overrun") return noSuchModel(x);
  x.sseHead();
  let seq = 0;
  const at = { item_id: "msg_up", output_index: 0, content_index: 0 };
  res.write(responseEvent("response.created", seq++, { response: response({ status: "in_progress" }) }));
  res.write(responseEvent("response.output_item.added", seq++, { output_index: 0, item: { ...message(""), status: "in_progress", content: [] } }));
  res.write(responseEvent("response.content_part.added", seq++, { ...at, part: { type: "output_text", text: "", annotations: [] } }));
  const words = model === "ok" ? ["Hello", " from", " upstream"] : Array.from({ length: OVERRUN_FACTOR * Number(body.max_output_tokens ?? 16) }, () => " tok");
  for (let i = 0; i < words.length && !res.destroyed; i++) {
    res.write(responseEvent("response.output_text.delta", seq++, { ...at, delta: words[i] }));
    if (i % 16 === 15) await sleep(1);
  }
  if (res.destroyed) return;
  const text = words.join("");
  res.write(responseEvent("response.output_text.done", seq++, { ...at, text }));
  const outputTokens = words.length;
  res.write(
    responseEvent("response.completed", seq++, {
      response: response({ output: [message(text)], usage: { ...usage, output_tokens: outputTokens, total_tokens: 21 + outputTokens } }),
    }),
  );
  x.end();
}
