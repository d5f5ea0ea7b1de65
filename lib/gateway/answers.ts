/**
 * Non-streaming answers of the /v1 pipeline: the upstream's JSON forwarded as it is, and the
 * caller's error when the upstream failed or the call threw. Each settles the request.
 */
import { log } from "@/lib/log";
import { errorAnswer, shuttingDown, upstreamAnswerTooLarge, upstreamClientError, upstreamError } from "./errors";
import type { Dialect } from "./dialects";
import type { Admitted, Outcome, Settlement } from "./settlement";
import { noUsage } from "./usage";
import { estimateTokensFromBytes } from "./tokens";
import { UpstreamConnectionError, type Upstream, type UpstreamAnswer, type UpstreamDeadline } from "./upstream";
import { jsonAnswer, type TextAnswer } from "./answer";

/** `api.max_response_mb` in bytes. */
export const responseLimitBytes = (ctx: Admitted) => Math.floor(ctx.config.api.max_response_mb * 1024 * 1024);

/**
 * An upstream answer's body as text; null when it passes `limit` bytes (or declares more), the rest
 * left unread: destroying the body drops the upstream connection (http-client.ts), so a huge answer
 * is never buffered. Rejects when the upstream breaks off or the deadline aborts it.
 */
export function readCapped(response: UpstreamAnswer, limit: number): Promise<string | null> {
  const body = response.body;
  if (!body) return Promise.resolve("");
  if (Number(response.header("content-length")) > limit) {
    body.destroy();
    return Promise.resolve(null);
  }
  // Destroyed before anyone read it (the deadline fired in between): its "error" and "close" are gone.
  if (body.destroyed) return Promise.reject(Object.assign(new Error("upstream answer aborted"), { code: "UND_ERR_SOCKET" }));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const stop = () => {
      settled = true;
      body.off("data", onData);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        stop();
        body.destroy();
        return resolve(null);
      }
      chunks.push(chunk);
    };
    body.on("data", onData);
    body.once("end", () => {
      if (settled) return;
      stop();
      resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8"));
    });
    body.once("error", (err) => {
      if (settled) return;
      stop();
      reject(err);
    });
    body.once("close", () => {
      if (settled) return;
      stop();
      reject(Object.assign(new Error("upstream connection closed before the end of the answer"), { code: "UND_ERR_SOCKET" }));
    });
  });
}

/** Turns an upstream failure (4xx/5xx answer) into the caller's error, settling with zero tokens. */
export async function failedAnswer(
  settlement: Settlement,
  ctx: Admitted,
  upstream: Upstream,
  response: UpstreamAnswer,
  streamed: boolean,
): Promise<TextAnswer> {
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
    return errorAnswer(err);
  }
  log.warn("upstream error answer", { model: ctx.model.name, endpoint: upstream.label, status: response.status });
  await settlement.settle(noUsage(502, "upstream_error", streamed), upstream);
  return errorAnswer(upstreamError());
}

/** A call that threw: caller gone (prompt billed, never nothing), timeout or connection failure (nothing). */
export async function thrownAnswer(
  settlement: Settlement,
  ctx: Admitted,
  deadline: UpstreamDeadline,
  err: unknown,
  streamed: boolean,
): Promise<TextAnswer> {
  const upstream = ctx.endpoint.upstream;
  if (deadline.cause === "caller") {
    const audio = ctx.promptAudioSeconds > 0 ? { audioSeconds: ctx.promptAudioSeconds, billAudio: true } : {};
    await settlement.settle(
      { ...noUsage(499, "client_closed", streamed), inputTokens: ctx.promptTokens, usageEstimated: true, ...audio },
      upstream,
    );
    return errorAnswer(upstreamError());
  }
  if (deadline.cause === "shutdown") {
    // Cut by a shutdown past its grace period: nothing reached the caller, nothing is billed.
    await settlement.settle(noUsage(503, "shutdown", streamed), upstream);
    return errorAnswer(shuttingDown());
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
  return errorAnswer(upstreamError());
}

/** Non-streaming: forward the upstream's JSON as it is, bill its usage (or an estimate). */
export async function forwardJson(
  settlement: Settlement,
  ctx: Admitted,
  deadline: UpstreamDeadline,
  upstream: Upstream,
  response: UpstreamAnswer,
  dialect: Dialect,
  /** Awaits the settlement, or (after-answer mode) lets it finish in the background. */
  settleInTime: (work: Promise<void>) => Promise<void>,
): Promise<TextAnswer> {
  let text: string | null;
  try {
    text = await ctx.scope.upstream(readCapped(response, responseLimitBytes(ctx)));
  } catch (err) {
    if (deadline.cause) return thrownAnswer(settlement, ctx, deadline, err, false);
    log.warn("upstream answer cut off", { model: ctx.model.name, endpoint: upstream.label });
    await settlement.settle(noUsage(502, "upstream_error", false), upstream);
    return errorAnswer(upstreamError());
  }
  if (text === null) {
    // The caller gets nothing, so only the prompt is billed (it was processed).
    log.warn("upstream answer too large; cut off", { model: ctx.model.name, endpoint: upstream.label, limitMb: ctx.config.api.max_response_mb });
    const outcome = { ...noUsage(502, "upstream_answer_too_large", false), inputTokens: ctx.promptTokens, usageEstimated: true };
    await settleInTime(settlement.settle(outcome, upstream));
    return errorAnswer(upstreamAnswerTooLarge());
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    log.warn("upstream answered invalid JSON", { model: ctx.model.name, endpoint: upstream.label });
    await settlement.settle(noUsage(502, "upstream_invalid_answer", false), upstream);
    return errorAnswer(upstreamError());
  }
  const usage = dialect.usage(parsed);
  const outcome: Outcome = {
    status: 200,
    inputTokens: usage?.input ?? ctx.promptTokens,
    // Output above the limit is capped by the settlement (limits.ts).
    outputTokens: ctx.limit.total === 0 ? 0 : (usage?.output ?? estimateTokensFromBytes(dialect.outputBytes(parsed))),
    usageEstimated: usage === null,
    streamed: false,
    ttftMs: null,
    errorCode: null,
  };
  await settleInTime(settlement.settle(outcome, upstream));
  return jsonAnswer(text, 200);
}
