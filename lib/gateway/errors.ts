/**
 * The gateway's closed error vocabulary (SPEC §5), in OpenAI's envelope:
 * `{"error": {"message", "type", "param", "code"}}`.
 *
 * Messages are written here, never copied from exceptions, so no key, stack trace, upstream URL or
 * secret can reach a caller. The one exception is an upstream 4xx, whose message is passed through
 * after `redact()` removes the endpoint's key and URL.
 */
import { describeDbError, isDbUnavailable } from "@/lib/db/errors";
import { log } from "@/lib/log";
import { jsonAnswer, type TextAnswer } from "./answer";

export type GatewayErrorType =
  | "invalid_request_error"
  | "permission_error"
  | "insufficient_quota"
  | "rate_limit_error"
  | "api_error"
  | (string & {});

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: GatewayErrorType,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "GatewayError";
  }

  toJSON(): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

export const BODY_LIMIT_BYTES = 10 * 1024 * 1024;

export const missingApiKey = () =>
  new GatewayError(
    401,
    "invalid_request_error",
    "missing_api_key",
    "You didn't provide an API key. Send it in the Authorization header: `Authorization: Bearer <key>`.",
  );

export const invalidApiKey = () =>
  new GatewayError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided, or the key was revoked.");

/** "2026-03-01 14:05:09 UTC": unambiguous for a caller reading a log anywhere. */
const utc = (at: Date) => `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;

/** The key passed its expiry, or this is an old secret of a rotated key whose grace has ended. */
export const expiredApiKey = (why: "key" | "rotated", at: Date) =>
  new GatewayError(
    401,
    "invalid_request_error",
    "expired_api_key",
    why === "key"
      ? `This API key expired on ${utc(at)}. Ask a manager of the client for a new key.`
      : `This API key was rotated and its old secret stopped working on ${utc(at)}. Use the key's new secret.`,
  );

export const clientDeactivated = () =>
  new GatewayError(
    403,
    "permission_error",
    "client_deactivated",
    "The client this API key belongs to is deactivated. Ask its manager or an administrator to reactivate it.",
  );

export const invalidBody = (message: string, param: string | null = null) =>
  new GatewayError(400, "invalid_request_error", "invalid_body", message, param);

export const bodyTooLarge = () =>
  new GatewayError(
    413,
    "invalid_request_error",
    "invalid_body",
    `The request body is larger than the limit of ${BODY_LIMIT_BYTES / 1024 / 1024} MB.`,
  );

/** An audio upload over its cap (lib/gateway/multipart.ts). */
export const uploadTooLarge = (limitBytes: number) =>
  new GatewayError(
    413,
    "invalid_request_error",
    "invalid_body",
    `The uploaded file is larger than the limit of ${limitBytes / 1024 / 1024} MB.`,
    "file",
  );

/** The monitoring token (api.monitoring.token) used anywhere but GET /v1/models[/{id}]. */
export const monitoringReadOnly = () =>
  new GatewayError(
    403,
    "permission_error",
    "monitoring_read_only",
    "The monitoring token may only read GET /v1/models and GET /v1/models/{model}. Use a client's API key to call models.",
  );

/**
 * A rate limit (rpm, tpm, max_parallel; lib/gateway/rate-limits.ts) refused the request. Distinct from
 * insufficient_quota: the coins are there, the pace is too high. `headers` carry Retry-After and the
 * x-ratelimit-* values.
 */
export const rateLimitExceeded = (message: string, retryAfterSeconds: number) =>
  new GatewayError(429, "rate_limit_error", "rate_limit_exceeded", message, null, {
    "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

export const modelNotFound = (model: string) =>
  new GatewayError(
    404,
    "invalid_request_error",
    "model_not_found",
    `The model \`${model}\` does not exist or you do not have access to it.`,
    "model",
  );

export const modelNotAllowed = (model: string) =>
  new GatewayError(
    403,
    "permission_error",
    "model_not_allowed",
    `This client may not use the model \`${model}\`. Ask an administrator for access.`,
    "model",
  );

/** `where` names the console page on which a manager grants consent. */
export const consentRequired = (model: string, where: string) =>
  new GatewayError(
    403,
    "permission_error",
    "consent_required",
    `The model \`${model}\` requires consent before this client may use it. A manager of the client can grant it on the client's page in the Lumen console: ${where}`,
    "model",
  );

/** `retryAfterSeconds` null: no refill is coming, so no Retry-After header. */
export const insufficientQuota = (retryAfterSeconds: number | null) =>
  new GatewayError(
    429,
    "insufficient_quota",
    "insufficient_quota",
    retryAfterSeconds === null
      ? "This client's coin pool is exhausted."
      : `This client's coin pool is exhausted. It refills in ${retryAfterSeconds} s.`,
    null,
    retryAfterSeconds === null ? {} : { "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  );

export const noHealthyEndpoint = (model: string) =>
  new GatewayError(
    503,
    "api_error",
    "no_healthy_endpoint",
    `No healthy endpoint is available for the model \`${model}\` right now. Try again later.`,
  );

export const upstreamError = () =>
  new GatewayError(502, "api_error", "upstream_error", "The model server failed to answer. Try again later.");

/** A non-streaming answer above `api.max_response_mb`: cut off unread. */
export const upstreamAnswerTooLarge = () =>
  new GatewayError(
    502,
    "api_error",
    "upstream_answer_too_large",
    "The model server's answer was larger than this server accepts. Ask for a shorter answer (max_tokens) or stream it.",
  );

/** A /v1 path that is not in the route table (routes.ts), trailing-slash variants included. */
export const routeNotFound = (method: string, path: string) =>
  new GatewayError(
    404,
    "invalid_request_error",
    "not_found",
    `Invalid URL (${method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}): no such endpoint.`,
  );

export const methodNotAllowed = (allowed: readonly string[]) =>
  new GatewayError(
    405,
    "invalid_request_error",
    "method_not_allowed",
    `This endpoint accepts ${allowed.join(", ")} only.`,
    null,
    { allow: allowed.join(", ") },
  );

/** The database is unreachable (or did not answer within api.db_timeout_ms): retry shortly. */
export const serviceUnavailable = (retryAfterSeconds = 5) =>
  new GatewayError(
    503,
    "api_error",
    "service_unavailable",
    "Lumen cannot reach its database right now. Try again in a few seconds.",
    null,
    { "retry-after": String(retryAfterSeconds) },
  );

/** The server is shutting down: the caller should retry on another instance or shortly. */
export const shuttingDown = () =>
  new GatewayError(503, "api_error", "service_unavailable", "Lumen is restarting. Try again in a few seconds.", null, {
    "retry-after": "2",
    connection: "close",
  });

/** The server listens but has not finished starting (database, migrations): retry in a moment. */
export const starting = () =>
  new GatewayError(503, "api_error", "service_unavailable", "Lumen is starting. Try again in a moment.", null, { "retry-after": "1" });

export const internalError = () =>
  new GatewayError(500, "api_error", "internal_error", "Lumen failed to process the request. The error was logged.");

/** Removes every occurrence of the given secrets (keys, URLs) from an upstream text. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

const MAX_PASSTHROUGH_MESSAGE = 2000;

/**
 * An upstream 4xx as the caller sees it: same status, the upstream's message and type (and code and
 * param when they are plain strings), with `secrets` redacted. A body that is not an OpenAI error
 * envelope gets a generic message.
 */
export function upstreamClientError(status: number, body: unknown, secrets: ReadonlyArray<string | undefined>): GatewayError {
  const err = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  const e = typeof err === "object" && err !== null ? (err as Record<string, unknown>) : {};
  const text = (v: unknown) => (typeof v === "string" && v.length > 0 ? redact(v, secrets).slice(0, MAX_PASSTHROUGH_MESSAGE) : null);
  const message = text(e.message) ?? (typeof err === "string" ? text(err) : null) ?? `The model server refused the request (HTTP ${status}).`;
  return new GatewayError(status, text(e.type) ?? "invalid_request_error", text(e.code), message, text(e.param));
}


/**
 * The HTTP answer for any failure. A GatewayError is answered as it is; an unreachable database is
 * 503 `service_unavailable`; anything else is our own bug: logged (code and short cause, never SQL
 * text or parameters, never a stack) and answered 500 `internal_error`.
 */
export function errorAnswer(err: unknown, context: Record<string, unknown> = {}): TextAnswer {
  let e: GatewayError;
  if (isGatewayError(err)) e = err;
  else if (isDbUnavailable(err)) {
    log.warn("database unavailable", { ...context, ...describeDbError(err) });
    e = serviceUnavailable();
  } else {
    log.error("gateway internal error", { ...context, ...describeDbError(err) });
    e = internalError();
  }
  return jsonAnswer(JSON.stringify(e.toJSON()), e.status, e.headers);
}
