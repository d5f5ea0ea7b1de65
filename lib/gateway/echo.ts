/**
 * The built-in `builtin:echo` model (SPEC §5), served in process behind the same interface as an
 * HTTP upstream: the pipeline cannot tell them apart.
 *
 * - Chat: replies "Echo: <last user message>", split on whitespace; each word is one token, so
 *   `max_tokens` / `max_completion_tokens` cut the reply after that many words (finish_reason
 *   "length"). Usage: prompt tokens = the estimate of tokens.ts, completion tokens = words sent.
 * - `stream`: one SSE chunk per word (OpenAI's chunk shape, role chunk first, usage chunk last when
 *   `stream_options.include_usage`), `chunk_delay_ms` between words.
 * - `latency_ms`: waited before answering (before the first chunk when streaming).
 * - Embeddings: deterministic unit vectors (8 dimensions, or `dimensions`) from SHA-256 of each
 *   input; `encoding_format: "base64"` (the openai npm client's default) as little-endian float32.
 * - Legacy completions: "Echo: <prompt>" for each prompt (n answers each), `max_tokens` cutting it
 *   the same way; streams `text_completion` chunks.
 * - Responses API: "Echo: <last user input>", `max_output_tokens` cutting it (status "incomplete");
 *   streams the typed events (echo-responses.ts).
 * - Audio transcriptions and translations: a sentence naming the file and its duration as read from its
 *   headers (audio-duration.ts), in every `response_format`, with `usage: {type: "duration"}` (echo-audio.ts).
 */
import crypto from "node:crypto";
import type { EndpointConfig } from "@/lib/config/schema";
import { ENDPOINT_BUILTIN_ECHO } from "@/lib/config/schema";
import { echoAudio } from "./echo-audio";
import { badRequest, echoWords, json, lazySse, positiveInt, sleep, upstreamAnswerOf } from "./echo-shared";
import { echoResponse } from "./echo-responses";
import { estimateEmbeddingTokens, estimatePromptTokens, lastUserText } from "./tokens";
import type { Upstream, UpstreamAnswer, UpstreamRequest } from "./upstream-interface";

const DEFAULT_DIMENSIONS = 8;
const MAX_DIMENSIONS = 4096;

/** The reply's words (tokens) for a chat body, and whether max_tokens cut it. */
export function echoReply(body: Record<string, unknown>): { words: string[]; truncated: boolean } {
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  return echoWords(lastUserText(messages), positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens));
}

function completionId(seed: string): string {
  return `chatcmpl-echo-${crypto.createHash("sha256").update(seed).digest("hex").slice(0, 24)}`;
}

/** A deterministic unit vector of `dims` floats for one input. */
export function echoVector(input: unknown, dims: number = DEFAULT_DIMENSIONS): number[] {
  const seed = JSON.stringify(input);
  const out: number[] = [];
  for (let block = 0; out.length < dims; block++) {
    const digest = crypto.createHash("sha256").update(`${block}:${seed}`).digest();
    for (let i = 0; i + 1 < digest.length && out.length < dims; i += 2) out.push(digest.readUInt16BE(i) / 32767.5 - 1);
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

function float32Base64(values: number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString("base64");
}

export class EchoUpstream implements Upstream {
  readonly label = ENDPOINT_BUILTIN_ECHO;
  readonly secrets: ReadonlyArray<string> = [];
  private readonly latencyMs: number;
  private readonly chunkDelayMs: number;

  /** `modelId`: the id this endpoint answers to (the endpoint's `model`, else the public model name). */
  constructor(
    endpoint: Pick<EndpointConfig, "latency_ms" | "chunk_delay_ms">,
    private readonly modelId: string,
  ) {
    this.latencyMs = endpoint.latency_ms ?? 0;
    this.chunkDelayMs = endpoint.chunk_delay_ms ?? 0;
  }

  async post(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    return upstreamAnswerOf(await this.answer(request, signal));
  }

  private answer(request: UpstreamRequest, signal: AbortSignal): Promise<Response> {
    if ("form" in request) return echoAudio(request.path, request.form, this.latencyMs, signal);
    switch (request.path) {
      case "/chat/completions":
        return this.chat(request.json, signal);
      case "/completions":
        return this.completions(request.json, signal);
      case "/responses":
        return echoResponse(request.json, this.modelId, { latencyMs: this.latencyMs, chunkDelayMs: this.chunkDelayMs }, signal);
      case "/embeddings":
        return this.embeddings(request.json, signal);
    }
  }

  async chat(body: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
    const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : null;
    if (!messages || messages.length === 0) return badRequest("'messages' must be a non-empty array.", "messages");
    await sleep(this.latencyMs, signal);

    const model = typeof body.model === "string" ? body.model : this.modelId;
    const { words, truncated } = echoReply(body);
    const usage = {
      prompt_tokens: estimatePromptTokens(messages),
      completion_tokens: words.length,
      total_tokens: estimatePromptTokens(messages) + words.length,
    };
    const id = completionId(JSON.stringify(messages));
    const created = Math.floor(Date.now() / 1000);
    const finishReason = truncated ? "length" : "stop";

    if (body.stream !== true) {
      return json(200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: words.join(" "), refusal: null },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      });
    }

    const options = body.stream_options as { include_usage?: unknown } | null | undefined;
    const includeUsage = options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model,
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      })}\n\n`;
    const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
      index: 0,
      delta,
      logprobs: null,
      finish_reason: finish,
    });

    // Events produced lazily, one per pull, so a slow reader or an abort stops the echo too.
    const events: Array<() => string> = [() => chunk([choice({ role: "assistant", content: "" })])];
    words.forEach((word, i) => events.push(() => chunk([choice({ content: i === 0 ? word : ` ${word}` })])));
    events.push(() => chunk([choice({}, finishReason)]));
    if (includeUsage) events.push(() => chunk([], { usage }));
    events.push(() => "data: [DONE]\n\n");

    // The delay separates word chunks (not the role chunk before the first word).
    return lazySse(events, (i) => (i >= 2 && i <= words.length ? this.chunkDelayMs : 0), signal);
  }

  /** Legacy completions: "Echo: <prompt>" for each prompt, n answers each. */
  async completions(body: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
    const prompt = body.prompt;
    let prompts: string[];
    if (typeof prompt === "string") prompts = [prompt];
    else if (Array.isArray(prompt) && prompt.length > 0) {
      const asText = (p: unknown) => (typeof p === "string" ? p : Array.isArray(p) ? `${p.length} tokens` : "");
      prompts = prompt.every((p) => typeof p === "number") ? [asText(prompt)] : prompt.map(asText);
    } else return badRequest("'prompt' must be a string or a non-empty array.", "prompt");
    await sleep(this.latencyMs, signal);

    const n = positiveInt(body.n) ?? 1;
    const max = positiveInt(body.max_tokens);
    const answers = prompts.flatMap((p) => Array.from({ length: n }, () => echoWords(p, max)));
    const promptTokens = estimateEmbeddingTokens(prompt as Parameters<typeof estimateEmbeddingTokens>[0]);
    const completionTokens = answers.reduce((sum, a) => sum + a.words.length, 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = `cmpl-echo-${crypto.createHash("sha256").update(JSON.stringify(prompts)).digest("hex").slice(0, 24)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body.model === "string" ? body.model : this.modelId;
    const finish = (a: { truncated: boolean }) => (a.truncated ? "length" : "stop");

    if (body.stream !== true) {
      return json(200, {
        id,
        object: "text_completion",
        created,
        model,
        choices: answers.map((a, index) => ({ text: a.words.join(" "), index, logprobs: null, finish_reason: finish(a) })),
        usage,
      });
    }
    const includeUsage = (body.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: "text_completion", created, model, choices, ...extra })}\n\n`;
    const events: Array<() => string> = [];
    answers.forEach((a, index) => {
      a.words.forEach((w, i) => events.push(() => chunk([{ text: i === 0 ? w : ` ${w}`, index, logprobs: null, finish_reason: null }])));
      events.push(() => chunk([{ text: "", index, logprobs: null, finish_reason: finish(a) }]));
    });
    if (includeUsage) events.push(() => chunk([], { usage }));
    events.push(() => "data: [DONE]\n\n");
    return lazySse(events, (i) => (i > 0 ? this.chunkDelayMs : 0), signal);
  }

  async embeddings(body: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
    const input = body.input;
    let items: unknown[];
    if (typeof input === "string") items = [input];
    else if (Array.isArray(input) && input.length > 0) {
      items = input.every((v) => typeof v === "number") ? [input] : input;
    } else return badRequest("'input' must be a string or a non-empty array.", "input");
    await sleep(this.latencyMs, signal);

    const dims = Math.min(MAX_DIMENSIONS, positiveInt(body.dimensions) ?? DEFAULT_DIMENSIONS);
    const base64 = body.encoding_format === "base64";
    const tokens = estimateEmbeddingTokens(input as Parameters<typeof estimateEmbeddingTokens>[0]);
    return json(200, {
      object: "list",
      data: items.map((item, index) => {
        const vector = echoVector(item, dims);
        return { object: "embedding", index, embedding: base64 ? float32Base64(vector) : vector };
      }),
      model: typeof body.model === "string" ? body.model : this.modelId,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async listModels(): Promise<UpstreamAnswer> {
    return upstreamAnswerOf(json(200, { object: "list", data: [{ id: this.modelId, object: "model", created: 0, owned_by: "lumen" }] }));
  }
}
