/**
 * Non-streaming answers of the /v1 pipeline: the upstream's JSON forwarded as it is, and the
 * caller's error when the upstream failed or the call threw. Each settles the request.
 */
import { log } from "@/lib/log";
import { errorResponse, shuttingDown, upstreamAnswerTooLarge, upstreamClientError, upstreamError } from "./errors";
import type { Admitted, Outcome, Settlement } from "./settlement";
import { noUsage, reportedUsage } from "./usage";
import { estimateTokensFromBytes } from "./tokens";
import { UpstreamConnectionError, type Upstream, type UpstreamDeadline } from "./upstream";
import { jsonResponse } from "./json-response";
import { readAtMost } from "./request";

export const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

/** UTF-8 bytes of generated text in a completion (message content, refusal, tool-call arguments). */
function completionBytes(body: unknown): number {
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return 0;
  let bytes = 0;
  for (const c of choices) {
    const m = (c as { message?: Record<string, unknown> } | null)?.message;
    if (!m) continue;
    if (typeof m.content === "string") bytes += Buffer.byteLength(m.content);
    if (typeof m.refusal === "string") bytes += Buffer.byteLength(m.refusal);
    if (Array.isArray(m.tool_calls)) bytes += Buffer.byteLength(JSON.stringify(m.tool_calls));
  }
  return bytes;
}

/** `api.max_response_mb` in bytes. */
const responseLimitBytes = (ctx: Admitted) => Math.floor(ctx.config.api.max_response_mb * 1024 * 1024);

/**
 * An upstream answer's body as text; null when it passes `limit` bytes (or declares more), the rest
 * left unread: cancelling the body destroys the upstream connection (http-client.ts), so a huge
 * answer is never buffered. Throws when the upstream breaks off or the deadline aborts it.
 */
async function readCapped(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return "";
  if (Number(response.headers.get("content-length")) > limit) {
    await response.body.cancel().catch(() => {});
    return null;
  }
  const bytes = await readAtMost(response.body, limit);
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
}

/** Turns an upstream failure (4xx/5xx answer) into the caller's error, settling with zero tokens. */
export async function failedAnswer(
  settlement: Settlement,
  ctx: Admitted,
  upstream: Upstream,
  response: Response,
  streamed: boolean,
): Promise<Response> {
  // An error answer larger than the cap is dropped unread: the caller gets a generic message.
  const text = (await readCapped(response, responseLimitBytes(ctx)).catch(() => "")) ?? "";
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
  let text: string | null;
  try {
    text = await readCapped(response, responseLimitBytes(ctx));
  } catch (err) {
    if (deadline.cause) return thrownAnswer(settlement, ctx, deadline, err, false);
    log.warn("upstream answer cut off", { model: ctx.model.name, endpoint: upstream.label });
    await settlement.settle(noUsage(502, "upstream_error", false), upstream);
    return errorResponse(upstreamError());
  }
  if (text === null) {
    // The caller gets nothing, so only the prompt is billed (it was processed).
    log.warn("upstream answer too large; cut off", { model: ctx.model.name, endpoint: upstream.label, limitMb: ctx.config.api.max_response_mb });
    const outcome = { ...noUsage(502, "upstream_answer_too_large", false), inputTokens: ctx.promptTokens, usageEstimated: true };
    await settleInTime(settlement.settle(outcome, upstream));
    return errorResponse(upstreamAnswerTooLarge());
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
    // Output above the limit is capped by the settlement (limits.ts).
    outputTokens: kind === "embeddings" ? 0 : (usage?.output ?? estimateTokensFromBytes(completionBytes(parsed))),
    usageEstimated: usage === null,
    streamed: false,
    ttftMs: null,
    errorCode: null,
  };
  await settleInTime(settlement.settle(outcome, upstream));
  return jsonResponse(text, 200, JSON_HEADERS);
}
