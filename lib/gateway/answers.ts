/**
 * Non-streaming answers of the /v1 pipeline: the upstream's JSON forwarded as it is, and the
 * caller's error when the upstream failed or the call threw. Each settles the request.
 */
import { log } from "@/lib/log";
import { errorResponse, shuttingDown, upstreamClientError, upstreamError } from "./errors";
import { noUsage, reportedUsage, type Admitted, type Outcome, type Settlement } from "./settlement";
import { estimateTokensFromChars } from "./tokens";
import { UpstreamConnectionError, type Upstream, type UpstreamDeadline } from "./upstream";
import { jsonResponse } from "./json-response";

export const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

/** Characters of generated text in a completion (message content, refusal, tool-call arguments). */
function completionChars(body: unknown): number {
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return 0;
  let chars = 0;
  for (const c of choices) {
    const m = (c as { message?: Record<string, unknown> } | null)?.message;
    if (!m) continue;
    if (typeof m.content === "string") chars += m.content.length;
    if (typeof m.refusal === "string") chars += m.refusal.length;
    if (Array.isArray(m.tool_calls)) chars += JSON.stringify(m.tool_calls).length;
  }
  return chars;
}

/** Turns an upstream failure (4xx/5xx answer) into the caller's error, settling with zero tokens. */
export async function failedAnswer(
  settlement: Settlement,
  ctx: Admitted,
  upstream: Upstream,
  response: Response,
  streamed: boolean,
): Promise<Response> {
  const text = await response.text().catch(() => "");
  if (response.status >= 400 && response.status < 500) {
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    const err = upstreamClientError(response.status, parsed, upstream.secrets);
    await settlement.settle(noUsage(response.status, err.code ?? "upstream_client_error", streamed), upstream);
    return errorResponse(err);
  }
  log.warn("upstream error answer", { model: ctx.model.name, endpoint: upstream.label, status: response.status });
  await settlement.settle(noUsage(502, "upstream_error", streamed), upstream);
  return errorResponse(upstreamError());
}

/** A call that threw: caller gone (prompt billed, never nothing), timeout or connection failure (nothing). */
export async function thrownAnswer(
  settlement: Settlement,
  ctx: Admitted,
  deadline: UpstreamDeadline,
  err: unknown,
  streamed: boolean,
): Promise<Response> {
  const upstream = ctx.endpoint.upstream;
  if (deadline.cause === "caller") {
    await settlement.settle(
      { ...noUsage(499, "client_closed", streamed), inputTokens: ctx.promptTokens, usageEstimated: true },
      upstream,
    );
    return errorResponse(upstreamError());
  }
  if (deadline.cause === "shutdown") {
    // Cut by a shutdown past its grace period: nothing reached the caller, nothing is billed.
    await settlement.settle(noUsage(503, "shutdown", streamed), upstream);
    return errorResponse(shuttingDown());
  }
  const reason =
    deadline.cause === "timeout"
      ? "upstream_timeout"
      : err instanceof UpstreamConnectionError
        ? "upstream_unreachable"
        : null;
  if (!reason) throw err;
  log.warn("upstream call failed", { model: ctx.model.name, endpoint: upstream.label, reason });
  await settlement.settle(noUsage(502, reason, streamed), upstream);
  return errorResponse(upstreamError());
}

/** Non-streaming: forward the upstream's JSON as it is, bill its usage (or an estimate). */
export async function forwardJson(
  settlement: Settlement,
  ctx: Admitted,
  deadline: UpstreamDeadline,
  upstream: Upstream,
  response: Response,
  kind: "chat" | "embeddings",
  /** Awaits the settlement, or (after-answer mode) lets it finish in the background. */
  settleInTime: (work: Promise<void>) => Promise<void>,
): Promise<Response> {
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    if (deadline.cause) return thrownAnswer(settlement, ctx, deadline, err, false);
    log.warn("upstream answer cut off", { model: ctx.model.name, endpoint: upstream.label });
    await settlement.settle(noUsage(502, "upstream_error", false), upstream);
    return errorResponse(upstreamError());
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    log.warn("upstream answered invalid JSON", { model: ctx.model.name, endpoint: upstream.label });
    await settlement.settle(noUsage(502, "upstream_invalid_answer", false), upstream);
    return errorResponse(upstreamError());
  }
  const usage = reportedUsage((parsed as { usage?: unknown } | null)?.usage);
  const outcome: Outcome = {
    status: 200,
    inputTokens: usage?.input ?? ctx.promptTokens,
    outputTokens: kind === "embeddings" ? 0 : (usage?.output ?? estimateTokensFromChars(completionChars(parsed))),
    usageEstimated: usage === null,
    streamed: false,
    ttftMs: null,
    errorCode: null,
  };
  await settleInTime(settlement.settle(outcome, upstream));
  return jsonResponse(text, 200, JSON_HEADERS);
}
