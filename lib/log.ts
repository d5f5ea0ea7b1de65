/**
 * Structured logs: one JSON object per line. Never pass keys, secrets or request bodies here.
 *
 * Errors are logged with `errorFields(err)`: their code and a short cause, never their message as
 * is — a database error's message carries the SQL text and its parameters (key hashes among them).
 * As a last guard, a field that still looks like query text is dropped.
 */
import { describeDbError } from "@/lib/db/errors";

type Fields = Record<string, unknown>;

const QUERY_TEXT = /failed query|\bparams:/i;

function scrub(fields: Fields | undefined): Fields | undefined {
  if (!fields) return fields;
  let out: Fields | undefined;
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string" && QUERY_TEXT.test(value)) (out ??= { ...fields })[name] = "[query text removed]";
  }
  return out ?? fields;
}

function write(level: "info" | "warn" | "error", msg: string, fields?: Fields) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...scrub(fields) });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log = {
  info: (msg: string, fields?: Fields) => write("info", msg, fields),
  warn: (msg: string, fields?: Fields) => write("warn", msg, fields),
  error: (msg: string, fields?: Fields) => write("error", msg, fields),
};

/** What to log of an error: `{code, cause}` (lib/db/errors.ts describeDbError). */
export function errorFields(err: unknown): { code: string | null; cause: string } {
  return describeDbError(err);
}
