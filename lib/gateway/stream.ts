/**
 * Streaming answers of the /v1 pipeline: the upstream's SSE is relayed to the caller as it arrives
 * (`relayStream`), read on the way by `SseTap` for usage, the first token's time and the output so
 * far, and the request is settled exactly once however the stream ends.
 *
 * The output limit is enforced here (limits.ts): the event that would take the delivered output
 * past it is not forwarded; the upstream is aborted and the caller gets a clean end — a chunk with
 * `finish_reason: "length"`, then `[DONE]` — so an upstream that ignores `max_tokens` cannot stream
 * on at the client's expense. The model's own count is not visible in the stream, so two counts
 * stand for it, and the first to pass the limit cuts:
 * - content deltas: token-streaming servers (vLLM, Ollama, llama.cpp, TGI, OpenAI) send one token
 *   per delta, at most — an upstream that honours the limit never sends more than limit × n;
 * - UTF-8 bytes / 4 with a margin of `CUT_MARGIN`, for servers that send several tokens per delta:
 *   that count runs above the model's on long tokens, and an honest answer must never be cut short.
 * The bill never exceeds the limit either way (the settlement caps it).
 */
import { randomUUID } from "node:crypto";
import { log } from "@/lib/log";
import { upstreamError } from "./errors";
import { withinLimit, type OutputLimit } from "./limits";
import type { Admitted, Outcome, Settlement } from "./settlement";
import { reportedUsage } from "./usage";
import { BYTES_PER_TOKEN, estimateTokensFromBytes } from "./tokens";
import type { AbortCause, Upstream, UpstreamDeadline } from "./upstream";

/**
 * A stream is also cut when its typical token count (bytes / 4) passes the limit this many times.
 * Typical counts run up to ~1.5× the model's on code and long words; beyond 2×, the upstream is
 * ignoring the limit.
 */
export const CUT_MARGIN = 2;

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

/** "cut": Lumen ended it at the output limit (a complete answer, status 200). */
type StreamEnd = "complete" | "cut" | "upstream_failed" | "caller_gone";

/**
 * Reads the upstream's SSE as it passes through, one event at a time: picks up usage, counts the
 * generated text's UTF-8 bytes (for the estimate when no usage comes, and the output limit), notes
 * the first token's time, the chunk id and which answers finished, and drops the usage-only chunk
 * the caller did not ask for. Events are forwarded byte for byte, up to the cut.
 */
export class SseTap {
  private partial = "";
  private event = "";
  private data: string[] = [];
  usage: { input: number; output: number } | null = null;
  /** Delivered so far: UTF-8 bytes of generated text, and the deltas that carried it. */
  bytes = 0;
  deltas = 0;
  firstTokenAt: number | null = null;
  /** Set by the event that would have passed the limit (not forwarded): nothing more is. */
  cut = false;
  private readonly cutAfterBytes: number;
  /** Of the first chunk, for the closing chunk of a cut. */
  private head: { id: unknown; created: unknown; model: unknown } | null = null;
  private finished: boolean[] | null = null;

  constructor(
    private readonly forwardUsage: boolean,
    private readonly limit: OutputLimit,
  ) {
    this.cutAfterBytes = limit.total * BYTES_PER_TOKEN * CUT_MARGIN;
  }

  /** Feeds decoded text; returns the complete events to forward now ("" when none). */
  push(text: string, now: number): string {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    let out = "";
    for (const line of lines) {
      out += this.line(`${line}\n`, now);
      if (this.cut) break;
    }
    return out;
  }

  /** At the end of the stream: whatever incomplete event remains. */
  flush(now: number): string {
    let out = "";
    if (this.partial) out += this.line(`${this.partial}\n`, now);
    this.partial = "";
    if (this.event) out += this.dispatch(now);
    return out;
  }

  private line(raw: string, now: number): string {
    this.event += raw;
    const content = raw.replace(/\r?\n$/, "");
    if (content === "") return this.dispatch(now);
    if (content.startsWith("data:")) this.data.push(content.slice(content.startsWith("data: ") ? 6 : 5));
    return "";
  }

  private dispatch(now: number): string {
    const text = this.event;
    const data = this.data.join("\n");
    this.event = "";
    this.data = [];
    if (!data || data === "[DONE]") return text;
    let chunk: { id?: unknown; created?: unknown; model?: unknown; usage?: unknown; choices?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return text;
    }
    if (typeof chunk !== "object" || chunk === null) return text;
    const usage = reportedUsage(chunk.usage);
    if (usage) this.usage = usage;
    this.head ??= { id: chunk.id, created: chunk.created, model: chunk.model };
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Array<{ index?: unknown; delta?: Record<string, unknown>; finish_reason?: unknown }>) : [];
    let bytes = 0;
    let deltas = 0;
    for (const c of choices) {
      if (typeof c?.finish_reason === "string" && typeof c.index === "number" && c.index < this.limit.choices) {
        (this.finished ??= [])[c.index] = true;
      }
      const d = c?.delta;
      if (!d) continue;
      let b = 0;
      for (const field of ["content", "reasoning_content", "reasoning", "refusal"] as const) {
        const v = d[field];
        if (typeof v === "string") b += Buffer.byteLength(v);
      }
      if (Array.isArray(d.tool_calls)) b += Buffer.byteLength(JSON.stringify(d.tool_calls));
      if (b > 0) {
        bytes += b;
        deltas++;
      }
    }
    if (bytes > 0) {
      if (this.deltas + deltas > this.limit.total || this.bytes + bytes > this.cutAfterBytes) {
        this.cut = true;
        return "";
      }
      this.bytes += bytes;
      this.deltas += deltas;
      if (this.firstTokenAt === null) this.firstTokenAt = now;
    }
    if (usage && !this.forwardUsage && Array.isArray(chunk.choices) && choices.length === 0) return "";
    return text;
  }

  /**
   * The caller's last events after a cut: `finish_reason: "length"` for every answer not finished
   * yet (same id, created and model as the upstream's chunks), the usage chunk when the caller asked
   * for usage (the billed numbers), then `[DONE]`.
   */
  closingEvents(billed: Outcome, fallbackModel: string): string {
    const head = {
      id: typeof this.head?.id === "string" ? this.head.id : `chatcmpl-${randomUUID()}`,
      object: "chat.completion.chunk",
      created: typeof this.head?.created === "number" ? this.head.created : Math.floor(Date.now() / 1000),
      model: typeof this.head?.model === "string" ? this.head.model : fallbackModel,
    };
    const choices = [];
    for (let index = 0; index < this.limit.choices; index++) {
      if (!this.finished?.[index]) choices.push({ index, delta: {}, logprobs: null, finish_reason: "length" });
    }
    let out = `data: ${JSON.stringify({ ...head, choices })}\n\n`;
    if (this.forwardUsage) {
      const usage = { prompt_tokens: billed.inputTokens, completion_tokens: billed.outputTokens, total_tokens: billed.inputTokens + billed.outputTokens };
      out += `data: ${JSON.stringify({ ...head, choices: [], usage })}\n\n`;
    }
    return `${out}data: [DONE]\n\n`;
  }

  /** What to record for a stream that ended this way. The caller going away always bills the prompt. */
  outcome(end: StreamEnd, ctx: Admitted, cause: AbortCause | null): Outcome {
    const complete = end === "complete" || end === "cut";
    const status = complete ? 200 : end === "caller_gone" ? 499 : 502;
    const errorCode = complete ? null : end === "caller_gone" ? "client_closed" : cause === "timeout" ? "upstream_timeout" : cause === "shutdown" ? "shutdown" : "upstream_error";
    const ttftMs = this.firstTokenAt === null ? null : Math.max(0, Math.round(this.firstTokenAt - ctx.startedAt));
    const base = { status, errorCode, ttftMs, streamed: true };
    if (this.usage) return { ...base, inputTokens: this.usage.input, outputTokens: this.usage.output, usageEstimated: false };
    if (end === "upstream_failed" && this.bytes === 0) {
      return { ...base, inputTokens: 0, outputTokens: 0, usageEstimated: false };
    }
    return {
      ...base,
      inputTokens: ctx.promptTokens,
      outputTokens: estimateTokensFromBytes(this.bytes),
      usageEstimated: true,
    };
  }
}

export interface RelayArgs {
  response: Response;
  upstream: Upstream;
  ctx: Admitted;
  settlement: Settlement;
  deadline: UpstreamDeadline;
  callerWantsUsage: boolean;
  /** Awaits the settlement ("before-answer"), or lets it finish in the background ("after-answer"). */
  settleInTime: (work: Promise<void>) => Promise<void>;
}

/**
 * Pipes the upstream's SSE to the caller as it arrives (pull-based: the upstream is read only as
 * fast as the caller reads). Settles exactly once: at the end of the stream, when the upstream
 * fails or times out (an error event is sent, then the stream closes), or when the caller goes away
 * (request aborted or response stream cancelled; the upstream request is aborted). In
 * "before-answer" mode the stream closes only after its request is recorded; in "after-answer" mode
 * the last bytes leave at once and the settlement follows.
 */
export function relayStream(a: RelayArgs): Response {
  const reader = (a.response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const tap = new SseTap(a.callerWantsUsage, a.ctx.limit);

  // The first end wins; every later path awaits the same settlement (before-answer mode: the stream
  // never closes before its request is recorded). Resolves with the outcome as billed.
  let finishing: Promise<Outcome> | null = null;
  const finish = (end: StreamEnd): Promise<Outcome> =>
    (finishing ??= (async () => {
      const cause = a.deadline.cause;
      a.deadline.dispose();
      const where = { model: a.ctx.model.name, endpoint: a.upstream.label };
      const billed = withinLimit(tap.outcome(end, a.ctx, cause), a.ctx.limit, where);
      await a.settleInTime(a.settlement.settle(billed, a.upstream));
      return billed;
    })());
  a.deadline.onAbort((cause) => {
    reader.cancel().catch(() => {});
    void finish(cause === "caller" ? "caller_gone" : "upstream_failed");
  });

  const errorEvent = () => `data: ${JSON.stringify(upstreamError().toJSON())}\n\n`;

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // After a cancel the controller refuses writes; nobody is listening then anyway.
      const send = (text: string) => {
        try {
          if (text) controller.enqueue(encoder.encode(text));
        } catch {}
      };
      const close = () => {
        try {
          controller.close();
        } catch {}
      };
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch {
          step = { done: true, value: undefined };
          if (!a.deadline.cause) {
            log.warn("upstream stream failed", { model: a.ctx.model.name, endpoint: a.upstream.label });
            // An incomplete event is dropped so the caller's parser sees a clean error event.
            await finish("upstream_failed");
            send(errorEvent());
            return close();
          }
        }
        if (step.done) {
          // A timeout, a shutdown or a caller that left cancels the reader, which also ends up here.
          const cause = a.deadline.cause;
          if (!cause) send(tap.flush(performance.now()));
          await finish(cause === "caller" ? "caller_gone" : cause ? "upstream_failed" : "complete");
          if (cause === "timeout" || cause === "shutdown") {
            log.warn(cause === "timeout" ? "upstream stream timed out" : "stream cut by shutdown", {
              model: a.ctx.model.name,
              endpoint: a.upstream.label,
            });
            send(errorEvent());
          }
          return close();
        }
        const out = tap.push(decoder.decode(step.value, { stream: true }), performance.now());
        if (tap.cut) {
          // At the output limit: abort the upstream (cancelling destroys its connection), bill, end cleanly.
          log.warn("upstream ignored max_tokens; stream cut at the limit", {
            model: a.ctx.model.name,
            endpoint: a.upstream.label,
            limit: a.ctx.limit.total,
          });
          send(out);
          await reader.cancel().catch(() => {});
          const billed = await finish("cut");
          send(tap.closingEvents(billed, a.ctx.model.name));
          return close();
        }
        if (out) return send(out);
      }
    },
    async cancel() {
      a.deadline.abort("caller");
      await reader.cancel().catch(() => {});
      await finish("caller_gone");
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
