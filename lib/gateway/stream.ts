/**
 * Streaming answers of the /v1 pipeline: the upstream's SSE is relayed to the caller as it arrives
 * (`relayStream`), read on the way by `SseTap` for usage and the first token's time, and the request
 * is settled exactly once however the stream ends.
 */
import { log } from "@/lib/log";
import { upstreamError } from "./errors";
import { reportedUsage, type Admitted, type Outcome, type Settlement } from "./settlement";
import { estimateTokensFromChars } from "./tokens";
import type { Upstream, UpstreamDeadline } from "./upstream";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

type StreamEnd = "complete" | "upstream_failed" | "caller_gone";

/**
 * Reads the upstream's SSE as it passes through, one event at a time: picks up usage, counts the
 * generated characters (for the estimate when no usage comes), notes the first token's time, and
 * drops the usage-only chunk the caller did not ask for. Events are forwarded byte for byte.
 */
export class SseTap {
  private partial = "";
  private event = "";
  private data: string[] = [];
  usage: { input: number; output: number } | null = null;
  chars = 0;
  firstTokenAt: number | null = null;

  constructor(private readonly forwardUsage: boolean) {}

  /** Feeds decoded text; returns the complete events to forward now ("" when none). */
  push(text: string, now: number): string {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    let out = "";
    for (const line of lines) out += this.line(`${line}\n`, now);
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
    let chunk: { usage?: unknown; choices?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return text;
    }
    const usage = reportedUsage(chunk?.usage);
    if (usage) this.usage = usage;
    const choices = Array.isArray(chunk?.choices) ? (chunk.choices as Array<{ delta?: Record<string, unknown> }>) : [];
    const before = this.chars;
    for (const c of choices) {
      const d = c?.delta;
      if (!d) continue;
      for (const field of ["content", "reasoning_content", "reasoning", "refusal"] as const) {
        const v = d[field];
        if (typeof v === "string") this.chars += v.length;
      }
      if (Array.isArray(d.tool_calls)) this.chars += JSON.stringify(d.tool_calls).length;
    }
    if (this.chars > before && this.firstTokenAt === null) this.firstTokenAt = now;
    if (usage && !this.forwardUsage && Array.isArray(chunk?.choices) && choices.length === 0) return "";
    return text;
  }

  /** What to record for a stream that ended this way. The caller going away always bills the prompt. */
  outcome(end: StreamEnd, ctx: Admitted, timedOut: boolean): Outcome {
    const status = end === "complete" ? 200 : end === "caller_gone" ? 499 : 502;
    const errorCode = end === "complete" ? null : end === "caller_gone" ? "client_closed" : timedOut ? "upstream_timeout" : "upstream_error";
    const ttftMs = this.firstTokenAt === null ? null : Math.max(0, Math.round(this.firstTokenAt - ctx.startedAt));
    const base = { status, errorCode, ttftMs, streamed: true };
    if (this.usage) return { ...base, inputTokens: this.usage.input, outputTokens: this.usage.output, usageEstimated: false };
    if (end === "upstream_failed" && this.chars === 0) {
      return { ...base, inputTokens: 0, outputTokens: 0, usageEstimated: false };
    }
    return {
      ...base,
      inputTokens: ctx.promptTokens,
      outputTokens: estimateTokensFromChars(this.chars),
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
  const tap = new SseTap(a.callerWantsUsage);

  // The first end wins; every later path awaits the same settlement (before-answer mode: the stream
  // never closes before its request is recorded).
  let finishing: Promise<void> | null = null;
  const finish = (end: StreamEnd): Promise<void> =>
    (finishing ??= (async () => {
      const timedOut = a.deadline.cause === "timeout";
      a.deadline.dispose();
      await a.settleInTime(a.settlement.settle(tap.outcome(end, a.ctx, timedOut), a.upstream));
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
