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
 */
import crypto from "node:crypto";
import type { EndpointConfig } from "@/lib/config/schema";
import { ENDPOINT_BUILTIN_ECHO } from "@/lib/config/schema";
import { estimateEmbeddingTokens, estimatePromptTokens, lastUserText } from "./tokens";
import type { Upstream } from "./upstream-interface";

const DEFAULT_DIMENSIONS = 8;
const MAX_DIMENSIONS = 4096;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

function badRequest(message: string, param: string | null): Response {
  return json(400, { error: { message, type: "invalid_request_error", param, code: null } });
}

const positiveInt = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;

/** The reply's words (tokens) for a chat body, and whether max_tokens cut it. */
export function echoReply(body: Record<string, unknown>): { words: string[]; truncated: boolean } {
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const words = `Echo: ${lastUserText(messages)}`.split(/\s+/).filter(Boolean);
  const max = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
  if (max !== undefined && words.length > max) return { words: words.slice(0, max), truncated: true };
  return { words, truncated: false };
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

    const encoder = new TextEncoder();
    let next = 0;
    const delay = this.chunkDelayMs;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          const make = events[next];
          if (!make) return controller.close();
          // The delay separates word chunks (not the role chunk before the first word).
          if (next >= 2 && next <= words.length) {
            try {
              await sleep(delay, signal);
            } catch (err) {
              return controller.error(err);
            }
          }
          if (signal.aborted) return controller.error(signal.reason);
          next++;
          controller.enqueue(encoder.encode(make()));
        },
      }),
      { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
    );
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

  async listModels(): Promise<Response> {
    return json(200, { object: "list", data: [{ id: this.modelId, object: "model", created: 0, owned_by: "lumen" }] });
  }
}
