/**
 * The JSON endpoints of the gateway, each described once as a "dialect": how its body is validated,
 * what its prompt and output limit are, how the upstream is told the limit, where an answer reports
 * usage and generated text, and how its stream reads (stream-readers.ts). The pipeline runs every
 * dialect through the same admission, estimate, settlement, disconnect and cut rules (SPEC §5–6):
 * chat completions, legacy completions, the Responses API and embeddings.
 */
import {
  chatCompletionSchema,
  completionsSchema,
  embeddingsSchema,
  requestedMaxTokens,
  responsesSchema,
  validateBody,
  type ChatCompletionBody,
  type CompletionsBody,
  type ResponsesBody,
} from "./body";
import { requestedChoices, upstreamChatBody, upstreamCompletionsBody, upstreamResponsesBody, type OutputLimit } from "./limits";
import { chatStreamReader, completionsStreamReader, responsesStreamReader, type ReaderOptions, type StreamReader } from "./stream-readers";
import { chatPromptTokens, embeddingTokens, responsesPromptTokens, type PromptTokens } from "./tokens";
import type { JsonPath } from "./upstream-interface";
import { reportedUsage, responsesUsage, type TokenUsage } from "./usage";

/** What a validated body asks for. */
export interface BodyPlan {
  model: string;
  prompt: PromptTokens;
  /** The caller's own output limit per answer, if it set one. */
  requested: number | undefined;
  /** Answers generated (n, best_of, prompts of a batch). */
  choices: number;
  /** No output at all (embeddings). */
  noOutput: boolean;
  streaming: boolean;
  /** The caller asked for the usage chunk of a chat or legacy-completions stream. */
  callerWantsUsage: boolean;
  /**
   * Text a stream may carry beyond the generated output, which the cut must not count (a legacy
   * completion with `echo: true` streams the prompt back first).
   */
  allowance: { deltas: number; bytes: number };
}

export interface Dialect {
  readonly name: "chat" | "completions" | "responses" | "embeddings";
  readonly path: JsonPath;
  /** Validates the body (400 naming the field) and reads what it asks for. */
  plan(body: Record<string, unknown>, maxN: number): BodyPlan;
  /** The body as the upstream gets it: the output limit always set, usage asked for in streams. */
  upstreamBody(body: Record<string, unknown>, limit: OutputLimit): Record<string, unknown>;
  /** Usage reported in a JSON answer. */
  usage(answer: unknown): TokenUsage | null;
  /** UTF-8 bytes of generated text in a JSON answer (the estimate when no usage is reported). */
  outputBytes(answer: unknown): number;
  /** How its stream reads; absent: the endpoint does not stream. */
  streamReader?(options: ReaderOptions): StreamReader;
}

const NO_ALLOWANCE = { deltas: 0, bytes: 0 };
const bytesOf = (v: unknown) => (typeof v === "string" ? Buffer.byteLength(v) : 0);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const recordOf = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {});

export const chatDialect: Dialect = {
  name: "chat",
  path: "/chat/completions",
  plan(raw, maxN) {
    const body = validateBody(chatCompletionSchema, raw);
    return {
      model: body.model,
      prompt: chatPromptTokens(body.messages, body.tools ?? body.functions),
      requested: requestedMaxTokens(body),
      choices: requestedChoices(body, maxN),
      noOutput: false,
      streaming: body.stream === true,
      callerWantsUsage: body.stream_options?.include_usage === true,
      allowance: NO_ALLOWANCE,
    };
  },
  upstreamBody: (body, limit) => upstreamChatBody(body as ChatCompletionBody, limit),
  usage: (answer) => reportedUsage(recordOf(answer).usage),
  outputBytes(answer) {
    let bytes = 0;
    for (const c of listOf(recordOf(answer).choices)) {
      const m = recordOf(recordOf(c).message);
      bytes += bytesOf(m.content) + bytesOf(m.refusal);
      if (Array.isArray(m.tool_calls)) bytes += Buffer.byteLength(JSON.stringify(m.tool_calls));
    }
    return bytes;
  },
  streamReader: chatStreamReader,
};

/** How many prompts a legacy completion carries: one string or token list, or an array of them. */
function promptCount(prompt: CompletionsBody["prompt"]): number {
  if (typeof prompt === "string") return 1;
  return prompt.every((p) => typeof p === "number") ? 1 : prompt.length;
}

export const completionsDialect: Dialect = {
  name: "completions",
  path: "/completions",
  plan(raw, maxN) {
    const body = validateBody(completionsSchema, raw);
    const prompt = embeddingTokens(body.prompt);
    // Each prompt of a batch gets its own n (or best_of) answers, as in OpenAI's API.
    const choices = promptCount(body.prompt) * requestedChoices(body, maxN);
    return {
      model: body.model,
      prompt,
      requested: body.max_tokens ?? undefined,
      choices,
      noOutput: false,
      streaming: body.stream === true,
      callerWantsUsage: body.stream_options?.include_usage === true,
      allowance: body.echo === true ? { deltas: prompt.bound * choices, bytes: prompt.bound * choices } : NO_ALLOWANCE,
    };
  },
  upstreamBody: (body, limit) => upstreamCompletionsBody(body as CompletionsBody, limit),
  usage: (answer) => reportedUsage(recordOf(answer).usage),
  outputBytes: (answer) => listOf(recordOf(answer).choices).reduce<number>((n, c) => n + bytesOf(recordOf(c).text), 0),
  streamReader: completionsStreamReader,
};

/** Generated text of a Responses API output item: message text and refusals, reasoning, tool-call arguments. */
function responseOutputBytes(item: Record<string, unknown>): number {
  let bytes = bytesOf(item.arguments) + bytesOf(item.input);
  for (const part of [...listOf(item.content), ...listOf(item.summary)]) {
    const p = recordOf(part);
    bytes += bytesOf(p.text) + bytesOf(p.refusal);
  }
  return bytes;
}

export const responsesDialect: Dialect = {
  name: "responses",
  path: "/responses",
  plan(raw) {
    const body = validateBody(responsesSchema, raw);
    return {
      model: body.model,
      prompt: responsesPromptTokens(body),
      requested: body.max_output_tokens ?? undefined,
      choices: 1,
      noOutput: false,
      streaming: body.stream === true,
      // Responses streams always carry usage (in response.completed); nothing to drop.
      callerWantsUsage: true,
      allowance: NO_ALLOWANCE,
    };
  },
  upstreamBody: (body, limit) => upstreamResponsesBody(body as ResponsesBody, limit),
  usage: (answer) => responsesUsage(recordOf(answer).usage),
  outputBytes: (answer) => listOf(recordOf(answer).output).reduce<number>((n, item) => n + responseOutputBytes(recordOf(item)), 0),
  streamReader: responsesStreamReader,
};

export const embeddingsDialect: Dialect = {
  name: "embeddings",
  path: "/embeddings",
  plan(raw) {
    const body = validateBody(embeddingsSchema, raw);
    return {
      model: body.model,
      prompt: embeddingTokens(body.input),
      requested: undefined,
      choices: 1,
      noOutput: true,
      streaming: false,
      callerWantsUsage: false,
      allowance: NO_ALLOWANCE,
    };
  },
  upstreamBody: (body) => body,
  usage: (answer) => reportedUsage(recordOf(answer).usage),
  outputBytes: () => 0,
};
