/**
 * Streaming answers of the /v1 pipeline: the upstream's SSE is relayed to the caller as it arrives
 * (`relayStream`), read on the way by `SseTap` for usage, the first token's time and the output so
 * far, and the request is settled exactly once however the stream ends.
 *
 * The same relay serves chat completions, legacy completions and the Responses API: each API's
 * events are read by its own StreamReader (stream-readers.ts).
 *
 * The output limit is enforced here (limits.ts): the event that would take the delivered output
 * past it is not forwarded; the upstream is aborted and the caller gets a clean end — a chunk with
 * `finish_reason: "length"`, then `[DONE]` (Responses: a `response.incomplete` event) — so an
 * upstream that ignores `max_tokens` cannot stream on at the client's expense. The model's own count is not visible in the stream, so two counts
 * stand for it, and the first to pass the limit cuts:
 * - content deltas: token-streaming servers (vLLM, Ollama, llama.cpp, TGI, OpenAI) send one token
 *   per delta, at most — an upstream that honours the limit never sends more than limit × n;
 * - UTF-8 bytes / 4 with a margin of `CUT_MARGIN`, for servers that send several tokens per delta:
 *   that count runs above the model's on long tokens, and an honest answer must never be cut short.
 * The bill never exceeds the limit either way (the settlement caps it).
 */
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { log } from "@/lib/log";
import type { StreamAnswer, StreamSink } from "./answer";
import { upstreamError } from "./errors";
import { withinLimit, type OutputLimit } from "./limits";
import type { Admitted, Outcome, Settlement } from "./settlement";
import type { StreamReader } from "./stream-readers";
import { BYTES_PER_TOKEN, estimateTokensFromBytes } from "./tokens";
import type { AbortCause, Upstream, UpstreamAnswer, UpstreamDeadline } from "./upstream";

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
 * Reads the upstream's SSE as it passes through, one event at a time, with the API's own reader
 * (stream-readers.ts): picks up usage, counts the generated text's UTF-8 bytes and deltas (for the
 * estimate when no usage comes, and the output limit), notes the first token's time, and drops the
 * usage-only chunk the caller did not ask for. Events are forwarded byte for byte, up to the cut.
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
  private readonly cutAfterDeltas: number;

  /** `allowance`: text the stream carries besides generated output (an echoed prompt), never counted for the cut. */
  constructor(
    private readonly reader: StreamReader,
    limit: OutputLimit,
    allowance: { deltas: number; bytes: number } = { deltas: 0, bytes: 0 },
  ) {
    this.cutAfterBytes = limit.total * BYTES_PER_TOKEN * CUT_MARGIN + allowance.bytes;
    this.cutAfterDeltas = limit.total + allowance.deltas;
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
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return text;
    }
    if (typeof chunk !== "object" || chunk === null || Array.isArray(chunk)) return text;
    const read = this.reader.read(chunk as Record<string, unknown>);
    if (read.usage) this.usage = read.usage;
    if (read.bytes > 0) {
      if (this.deltas + read.deltas > this.cutAfterDeltas || this.bytes + read.bytes > this.cutAfterBytes) {
        this.cut = true;
        return "";
      }
      this.bytes += read.bytes;
      this.deltas += read.deltas;
      if (this.firstTokenAt === null) this.firstTokenAt = now;
    }
    return read.drop ? "" : text;
  }

  /** The caller's last events after a cut (stream-readers.ts), with the billed numbers. */
  closingEvents(billed: Outcome): string {
    return this.reader.closingEvents(billed);
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
  response: UpstreamAnswer;
  upstream: Upstream;
  ctx: Admitted;
  settlement: Settlement;
  deadline: UpstreamDeadline;
  /** Reads the API's events (stream-readers.ts). */
  reader: StreamReader;
  /** Text the stream carries besides generated output (BodyPlan.allowance). */
  allowance?: { deltas: number; bytes: number };
  /** Awaits the settlement ("before-answer"), or lets it finish in the background ("after-answer"). */
  settleInTime: (work: Promise<void>) => Promise<void>;
}

/**
 * Relays the upstream's SSE to the caller as it arrives, straight from the upstream's node stream to
 * the caller's sink (answer.ts), with back-pressure: the upstream is paused while the caller's buffer
 * is full. Settles exactly once: at the end of the stream, when the upstream fails or times out (an
 * error event is sent, then the stream ends), at the output limit (the upstream is dropped, the
 * closing events sent), or when the caller goes away (the deadline's "caller" abort, or `cancel()`;
 * the upstream request is aborted). In "before-answer" mode the stream ends only after its request
 * is recorded; in "after-answer" mode the last bytes leave at once and the settlement follows.
 */
export function relayStream(a: RelayArgs): StreamAnswer {
  const body = a.response.body as Readable;
  const decoder = new StringDecoder("utf8");
  const tap = new SseTap(a.reader, a.ctx.limit, a.allowance);
  const where = { model: a.ctx.model.name, endpoint: a.upstream.label };

  // The first end wins; every later path awaits the same settlement (before-answer mode: the stream
  // never ends before its request is recorded). Resolves with the outcome as billed.
  let finishing: Promise<Outcome> | null = null;
  const finish = (end: StreamEnd): Promise<Outcome> =>
    (finishing ??= (async () => {
      const cause = a.deadline.cause;
      a.deadline.dispose();
      const billed = withinLimit(tap.outcome(end, a.ctx, cause), a.ctx.limit, where);
      await a.settleInTime(a.settlement.settle(billed, a.upstream));
      return billed;
    })());

  // The caller's side: text for a sink that is not there yet waits for it (an end before `pipe`).
  let sink: StreamSink | null = null;
  let lastText: string | null = null;
  let ended = false;
  let whenEnded: () => void = () => {};
  const endedPromise = new Promise<void>((resolve) => (whenEnded = resolve));
  const end = (text = "") => {
    if (ended) return;
    ended = true;
    if (sink) sink.end(text);
    else lastText = text;
    whenEnded();
  };
  const errorEvent = () => `data: ${JSON.stringify(upstreamError().toJSON())}\n\n`;

  let upstreamEnded = false;
  const onData = (chunk: Buffer) => {
    if (finishing) return;
    const out = tap.push(decoder.write(chunk), performance.now());
    if (tap.cut) {
      // At the output limit: drop the upstream (destroying its body closes the connection), bill, end cleanly.
      log.warn("upstream ignored max_tokens; stream cut at the limit", { ...where, limit: a.ctx.limit.total });
      body.off("data", onData);
      body.destroy();
      if (out) sink!.write(out);
      void finish("cut").then((billed) => end(tap.closingEvents(billed)));
      return;
    }
    if (out && !sink!.write(out)) {
      body.pause();
      sink!.onDrain(() => body.resume());
    }
  };
  const onEnd = () => {
    upstreamEnded = true;
    if (finishing) return;
    const now = performance.now();
    const rest = tap.push(decoder.end(), now) + tap.flush(now);
    void finish("complete").then(() => end(rest));
  };
  // A read error, or the connection closed before the end (the upstream dropped it mid-answer).
  const onBroken = () => {
    if (upstreamEnded || finishing || a.deadline.cause) return;
    log.warn("upstream stream failed", where);
    // An incomplete event is dropped so the caller's parser sees a clean error event.
    void finish("upstream_failed").then(() => end(errorEvent()));
  };
  body.on("error", onBroken);
  body.on("close", onBroken);
  a.deadline.onAbort((cause) => {
    body.destroy();
    if (finishing) return;
    void finish(cause === "caller" ? "caller_gone" : "upstream_failed").then(() => {
      if (cause === "caller") return end();
      log.warn(cause === "timeout" ? "upstream stream timed out" : "stream cut by shutdown", where);
      end(errorEvent());
    });
  });

  return {
    kind: "stream",
    status: 200,
    headers: { ...SSE_HEADERS },
    pipe(to) {
      sink = to;
      if (ended) to.end(lastText ?? "");
      else {
        body.on("data", onData);
        body.once("end", onEnd);
      }
      return endedPromise;
    },
    cancel() {
      a.deadline.abort("caller");
    },
  };
}
