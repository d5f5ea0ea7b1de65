/** Token usage as upstreams report it, in one place: JSON answers, SSE chunks, and "no usage". */
import type { Outcome } from "@/lib/coins/request-record";

/** A non-negative whole number, or undefined. */
const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;

/** Token usage as an upstream reported it; null when absent or unusable. */
export function reportedUsage(usage: unknown): { input: number; output: number } | null {
  if (typeof usage !== "object" || usage === null) return null;
  const u = usage as Record<string, unknown>;
  const input = count(u.prompt_tokens);
  if (input === undefined) return null;
  return { input, output: count(u.completion_tokens) ?? 0 };
}

export function noUsage(status: number, errorCode: string | null, streamed: boolean): Outcome {
  return { status, inputTokens: 0, outputTokens: 0, usageEstimated: false, streamed, ttftMs: null, errorCode };
}
