/**
 * Database failures as Lumen tells them apart and logs them.
 *
 * Drizzle wraps every driver error in one whose message is "Failed query: <SQL> params: <values>" —
 * and the values of a gateway query include API-key hashes. So a database error is never logged by
 * its message: `describeDbError` walks the cause chain to the driver's error and keeps only its
 * SQLSTATE (or node / postgres.js error code) and PostgreSQL's own message, which never carries
 * parameter values (those are in `detail`, which is dropped).
 */

/** SQLSTATE classes and node / postgres.js codes meaning "the database could not be reached or went away". */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "53300", // too_many_connections
]);

/** A unique index refused the write (SQLSTATE 23505), e.g. a client name already taken. */
export function isUniqueViolation(err: unknown): boolean {
  return causes(err).some((e) => codeOf(e) === "23505");
}

/** PostgreSQL chose this transaction as a deadlock victim (SQLSTATE 40P01): retrying it is safe. */
export function isDeadlock(err: unknown): boolean {
  return causes(err).some((e) => codeOf(e) === "40P01");
}

/** Raised by `withDbTimeout` when the database did not answer in time. */
export class DbTimeoutError extends Error {
  readonly code = "DB_TIMEOUT";
  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = "DbTimeoutError";
  }
}

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  for (let depth = 0; depth < 6 && cur && typeof cur === "object"; depth++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

function codeOf(e: unknown): string | null {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && code ? code : null;
}

/** The innermost error code in the cause chain (SQLSTATE, ECONNREFUSED, CONNECTION_CLOSED…). */
export function dbErrorCode(err: unknown): string | null {
  let found: string | null = null;
  for (const e of causes(err)) found = codeOf(e) ?? found;
  return found;
}

/**
 * True when the error means the database was unreachable or went away (connection refused or reset,
 * SQLSTATE class 08, 57P01–57P03, a timeout of ours): the request may be retried once it is back, and
 * the caller gets 503, not 500.
 */
export function isDbUnavailable(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof DbTimeoutError) return true;
    const code = codeOf(e);
    if (code && (CONNECTION_CODES.has(code) || code.startsWith("08"))) return true;
  }
  return false;
}

/** A loggable description of a database (or any) error: code and a short cause, never SQL or parameters. */
export function describeDbError(err: unknown): { code: string | null; cause: string } {
  const chain = causes(err);
  const code = dbErrorCode(err);
  // The innermost error that is not drizzle's wrapper.
  for (let i = chain.length - 1; i >= 0; i--) {
    const e = chain[i] as { message?: unknown; name?: unknown };
    const message = typeof e.message === "string" ? e.message : "";
    if (message && !/failed query/i.test(message)) return { code, cause: message.split("\n")[0]!.slice(0, 200) };
  }
  const first = chain[0] as { name?: unknown } | undefined;
  return { code, cause: typeof first?.name === "string" ? first.name : "unknown error" };
}

/** Runs a database call with a deadline; past it rejects with DbTimeoutError (the call itself goes on). */
export function withDbTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbTimeoutError(ms)), ms);
    timer.unref?.();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
