/**
 * The output limit of a request (SPEC §6, "bounded by construction"): how many answers it asks for,
 * how many tokens each may have, the body that tells the upstream so, and the bill that holds an
 * upstream to it.
 *
 * One number decides both the reservation and what the upstream is told: `outputTokenLimit`
 * (lib/coins/cost.ts) — the caller's `max_completion_tokens`, else `max_tokens`, else the model's
 * `max_output_tokens`, else 4,096. Lumen always sends it, and then never bills more output than
 * limit × answers, whatever the upstream produced or reported (a stream is cut past it, stream.ts).
 * With the prompt estimate bounding the prompt (tokens.ts), a request costs at most what it
 * reserved; the README states what that means for a client's balance.
 */
import { outputTokenBudget, outputTokenLimit } from "@/lib/coins/cost";
import type { ModelConfig } from "@/lib/config/schema";
import { log } from "@/lib/log";
import type { ChatCompletionBody } from "./body";
import { invalidBody } from "./errors";
import type { Outcome } from "./settlement";

export interface OutputLimit {
  /** Output tokens of one answer: the number sent upstream. */
  perChoice: number;
  /** Answers generated: max(n, best_of, 1). */
  choices: number;
  /** perChoice × choices: the most output ever billed. */
  total: number;
}

/** Embeddings produce no output. */
export const NO_OUTPUT: OutputLimit = { perChoice: 0, choices: 1, total: 0 };

/**
 * How many answers a validated chat body asks for: max(n, best_of, 1). `best_of` (legacy
 * completions) generates that many upstream and returns `n` of them, so it counts when larger.
 * Either above `maxN` (api.max_n) is refused: 400 invalid_body naming the field.
 */
export function requestedChoices(body: { n?: number | null; best_of?: number | null }, maxN: number): number {
  const n = body.n ?? 1;
  const bestOf = body.best_of ?? 1;
  for (const [param, value] of [["n", n], ["best_of", bestOf]] as const) {
    if (value > maxN) {
      throw invalidBody(`Invalid '${param}': at most ${maxN} answers per request are allowed on this server (asked for ${value}).`, param);
    }
  }
  return Math.max(n, bestOf);
}

/**
 * The limit of a request: `requested` is the caller's (requestedMaxTokens), `choices` from
 * requestedChoices. `total` is the output part of the reservation and the cap of every bill.
 */
export function outputLimit(model: ModelConfig, requested: number | undefined, choices: number): OutputLimit {
  return {
    perChoice: outputTokenLimit(model, requested),
    choices,
    total: outputTokenBudget(model, requested, choices),
  };
}

/**
 * The body as the upstream gets it: the caller's own limit field when it sent one
 * (`max_completion_tokens` wins, as in the estimate; a differing `max_tokens` beside it is aligned so
 * no upstream can pick the larger), else `max_tokens` — the field every OpenAI-compatible server
 * knows. Streaming requests also ask for usage. Returns `body` itself when nothing changes.
 */
export function upstreamChatBody(body: ChatCompletionBody, limit: OutputLimit): Record<string, unknown> {
  const streaming = body.stream === true;
  const hasCompletionField = body.max_completion_tokens != null;
  const needsMaxTokens = hasCompletionField ? body.max_tokens != null && body.max_tokens !== limit.perChoice : body.max_tokens == null;
  if (!streaming && !needsMaxTokens) return body;
  const out: Record<string, unknown> = { ...body };
  if (needsMaxTokens) out.max_tokens = limit.perChoice;
  if (streaming) out.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
  return out;
}

/**
 * The outcome as billed: output above the limit (an upstream that ignored `max_tokens`, or reported
 * more than it was allowed) is capped at `limit.total`, and the row is marked estimated because its
 * count is no longer the upstream's.
 */
export function withinLimit(outcome: Outcome, limit: OutputLimit, where: Record<string, unknown>): Outcome {
  if (outcome.outputTokens <= limit.total) return outcome;
  log.warn("upstream ignored max_tokens; output billed at the limit", {
    ...where,
    outputTokens: outcome.outputTokens,
    limit: limit.total,
  });
  return { ...outcome, outputTokens: limit.total, usageEstimated: true };
}
