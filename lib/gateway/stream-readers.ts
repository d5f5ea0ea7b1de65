/**
 * How each streaming API's events read (stream.ts's SseTap does the SSE framing, the counting and the
 * cut; a reader knows one API's event shapes): usage, the generated text of a delta, which answers
 * finished, and the events that end a stream Lumen cut at the output limit.
 *
 * - chat completions: `chat.completion.chunk`s; text in `choices[].delta` (content, reasoning, refusal,
 *   tool calls); usage in the chunk with `usage` (only forwarded when the caller asked for it).
 * - legacy completions: `text_completion` chunks; text in `choices[].text`.
 * - Responses: typed events (`response.created`, `response.output_text.delta`, …,
 *   `response.completed`); text in the `*.delta` events; usage in the final event's `response.usage`.
 */
import { randomUUID } from "node:crypto";
import type { Outcome } from "@/lib/coins/request-record";
import type { OutputLimit } from "./limits";
import { reportedUsage, responsesUsage, type TokenUsage } from "./usage";

export interface EventReading {
  usage: TokenUsage | null;
  /** UTF-8 bytes of generated text in the event, and how many deltas carried it. */
  bytes: number;
  deltas: number;
  /** A usage-only chunk the caller did not ask for: not forwarded. */
  drop: boolean;
}

export interface StreamReader {
  /** Reads one event's parsed `data`. */
  read(data: Record<string, unknown>): EventReading;
  /** After a cut at the output limit: the caller's last events, with the bill's numbers. */
  closingEvents(billed: Outcome): string;
}

export interface ReaderOptions {
  limit: OutputLimit;
  /** The caller asked for the usage chunk (chat and legacy completions' stream_options.include_usage). */
  forwardUsage: boolean;
  /** The public model name, for closing events when the upstream's chunks named none. */
  model: string;
}

type Choice = { index?: unknown; delta?: Record<string, unknown>; text?: unknown; finish_reason?: unknown };

const bytesOf = (v: unknown) => (typeof v === "string" ? Buffer.byteLength(v) : 0);

/** Chat completions (`delta`) and legacy completions (`text`) stream the same way, choice by choice. */
function choiceStreamReader(kind: "chat" | "completions", o: ReaderOptions): StreamReader {
  let head: { id: unknown; created: unknown; model: unknown } | null = null;
  const finished: boolean[] = [];
  return {
    read(chunk) {
      const usage = reportedUsage(chunk.usage);
      head ??= { id: chunk.id, created: chunk.created, model: chunk.model };
      const choices = Array.isArray(chunk.choices) ? (chunk.choices as Choice[]) : [];
      let bytes = 0;
      let deltas = 0;
      for (const c of choices) {
        if (typeof c?.finish_reason === "string" && typeof c.index === "number" && c.index < o.limit.choices) finished[c.index] = true;
        let b = 0;
        if (kind === "completions") b = bytesOf(c?.text);
        else if (c?.delta) {
          const d = c.delta;
          b = bytesOf(d.content) + bytesOf(d.reasoning_content) + bytesOf(d.reasoning) + bytesOf(d.refusal);
          if (Array.isArray(d.tool_calls)) b += Buffer.byteLength(JSON.stringify(d.tool_calls));
        }
        if (b > 0) {
          bytes += b;
          deltas++;
        }
      }
      const drop = usage !== null && !o.forwardUsage && Array.isArray(chunk.choices) && choices.length === 0;
      return { usage, bytes, deltas, drop };
    },
    closingEvents(billed) {
      const base = {
        id: typeof head?.id === "string" ? head.id : `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID()}`,
        object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
        created: typeof head?.created === "number" ? head.created : Math.floor(Date.now() / 1000),
        model: typeof head?.model === "string" ? head.model : o.model,
      };
      const choices = [];
      for (let index = 0; index < o.limit.choices; index++) {
        if (finished[index]) continue;
        choices.push(
          kind === "chat"
            ? { index, delta: {}, logprobs: null, finish_reason: "length" }
            : { index, text: "", logprobs: null, finish_reason: "length" },
        );
      }
      let out = `data: ${JSON.stringify({ ...base, choices })}\n\n`;
      if (o.forwardUsage) {
        const usage = { prompt_tokens: billed.inputTokens, completion_tokens: billed.outputTokens, total_tokens: billed.inputTokens + billed.outputTokens };
        out += `data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`;
      }
      return `${out}data: [DONE]\n\n`;
    },
  };
}

export const chatStreamReader = (o: ReaderOptions) => choiceStreamReader("chat", o);
export const completionsStreamReader = (o: ReaderOptions) => choiceStreamReader("completions", o);

/** Events of the Responses API that carry generated text in `delta`. */
const RESPONSE_TEXT_DELTAS = new Set([
  "response.output_text.delta",
  "response.refusal.delta",
  "response.reasoning_text.delta",
  "response.reasoning_summary_text.delta",
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
]);

/**
 * The Responses API's typed events. A cut ends with `response.incomplete` (the event OpenAI sends when
 * a response stops at max_output_tokens): the response of `response.created` with status
 * "incomplete", `incomplete_details.reason` "max_output_tokens" and the billed usage.
 */
export function responsesStreamReader(o: ReaderOptions): StreamReader {
  let head: Record<string, unknown> | null = null;
  let sequence = -1;
  return {
    read(event) {
      if (typeof event.sequence_number === "number") sequence = Math.max(sequence, event.sequence_number);
      const response = typeof event.response === "object" && event.response !== null ? (event.response as Record<string, unknown>) : null;
      if (event.type === "response.created" && response) head = response;
      const usage = response ? responsesUsage(response.usage) : null;
      const isDelta = typeof event.type === "string" && RESPONSE_TEXT_DELTAS.has(event.type);
      const bytes = isDelta ? bytesOf(event.delta) : 0;
      return { usage, bytes, deltas: bytes > 0 ? 1 : 0, drop: false };
    },
    closingEvents(billed) {
      const response = {
        ...(head ?? { id: `resp_${randomUUID().replace(/-/g, "")}`, object: "response", created_at: Math.floor(Date.now() / 1000), model: o.model, output: [] }),
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        usage: {
          input_tokens: billed.inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: billed.outputTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: billed.inputTokens + billed.outputTokens,
        },
      };
      const event = { type: "response.incomplete", sequence_number: sequence + 1, response };
      return `event: response.incomplete\ndata: ${JSON.stringify(event)}\n\n`;
    },
  };
}
