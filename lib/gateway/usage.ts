/**
 * Usage as upstreams report it, in one place: chat, legacy completions and embeddings
 * (`prompt_tokens`, `completion_tokens`), the Responses API (`input_tokens`, `output_tokens`), audio
 * (`{type: "duration", seconds}` or `{type: "tokens", input_tokens, output_tokens}`), and "no usage".
 */
import type { Outcome } from "@/lib/coins/request-record";

export interface TokenUsage {
  input: number;
  output: number;
}

/** A non-negative whole number, or undefined. */
const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;

const record = (v: unknown): Record<string, unknown> | null => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null);

/** Token usage of chat, completions and embeddings; null when absent or unusable. */
export function reportedUsage(usage: unknown): TokenUsage | null {
  const u = record(usage);
  const input = count(u?.prompt_tokens);
  if (input === undefined) return null;
  return { input, output: count(u?.completion_tokens) ?? 0 };
}

/** Token usage of the Responses API (`response.usage`); null when absent or unusable. */
export function responsesUsage(usage: unknown): TokenUsage | null {
  const u = record(usage);
  const input = count(u?.input_tokens);
  if (input === undefined) return null;
  return { input, output: count(u?.output_tokens) ?? 0 };
}

/** Usage of a transcription or translation: seconds of audio, or tokens (gpt-4o-transcribe and peers). */
export type AudioUsage = { kind: "duration"; seconds: number } | { kind: "tokens"; input: number; output: number };

export function audioUsage(usage: unknown): AudioUsage | null {
  const u = record(usage);
  if (!u) return null;
  if (u.type === "duration" && typeof u.seconds === "number" && Number.isFinite(u.seconds) && u.seconds >= 0) {
    return { kind: "duration", seconds: u.seconds };
  }
  const input = count(u.input_tokens);
  if (u.type === "tokens" || input !== undefined) {
    if (input === undefined) return null;
    return { kind: "tokens", input, output: count(u.output_tokens) ?? 0 };
  }
  return null;
}

export function noUsage(status: number, errorCode: string | null, streamed: boolean): Outcome {
  return { status, inputTokens: 0, outputTokens: 0, usageEstimated: false, streamed, ttftMs: null, errorCode };
}
