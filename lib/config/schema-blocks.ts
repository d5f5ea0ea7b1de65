/**
 * Shared pieces of the config.yaml schema (SPEC section 8): the error messages, the access
 * vocabulary, and the small zod building blocks the section schemas are made of.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------
// Messages (the "expected …" part of every error line)
// ---------------------------------------------------------------------------

export const MSG = {
  max: "expected a number ≥ -2 (-2 unlimited, 0 blocked)",
  maxGap: "expected -2 (unlimited), 0 (blocked) or a positive number",
  refresh: "expected a number ≥ 0 (coins per hour)",
  starting: "expected a number ≥ 0 (the first balance)",
  access: 'expected "allowed" or "blocked"',
  url: 'expected an http(s) URL or "builtin:echo"',
  httpUrl: "expected an http(s) URL",
  cost: "expected a number ≥ 0 (coins per million tokens)",
  ms: "expected a whole number of milliseconds ≥ 0",
  maxN: "expected a whole number from 1 to 1024 (answers per request)",
  bool: "expected true or false",
  nameList: "expected a list of model names",
  groupList: "expected a list of group names",
  rpm: "expected a whole number > 0 (requests per minute)",
  tpm: "expected a whole number > 0 (tokens per minute)",
  maxParallel: "expected a whole number > 0 (requests in flight at once)",
  audioCost: "expected a number ≥ 0 (coins per hour of audio)",
} as const;

/** Words that configure access, old and new. */
export const CANONICAL_ACCESS_WORDS = ["allowed", "blocked"] as const;
export const LEGACY_ACCESS_WORDS = ["whitelist", "blacklist", "graylist"] as const;
/** Keys that are accepted in a model_access block only for backwards compatibility. */
export const LEGACY_LIST_KEYS = ["whitelist", "blacklist", "graylist"] as const;

export type AccessWord = (typeof CANONICAL_ACCESS_WORDS)[number];
type AccessWordInput = AccessWord | (typeof LEGACY_ACCESS_WORDS)[number];

export function canonicalAccess(word: AccessWordInput): AccessWord {
  return word === "blocked" || word === "blacklist" ? "blocked" : "allowed";
}

export const ENDPOINT_BUILTIN_ECHO = "builtin:echo";

export function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

/** A section/mapping written as `key:` with nothing after it (YAML null) means "all defaults". */
export function nullable<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null ? undefined : v), schema);
}

/** A mapping that may be omitted or left empty; its inner defaults apply. */
export function section<T extends z.ZodType>(schema: T) {
  return nullable(schema.prefault({} as z.input<T>));
}

export const accessWordInput = z.enum(["allowed", "blocked", "whitelist", "blacklist", "graylist"], {
  error: MSG.access,
});

export const nonNegative = (msg: string) => z.number({ error: msg }).min(0, { error: msg });

export const poolMax = z
  .number({ error: MSG.max })
  .min(-2, { error: MSG.max, abort: true })
  .refine((v) => v === -2 || v >= 0, { error: MSG.maxGap });

export const stringList = (msg: string) =>
  z.array(z.string({ error: "expected a name (a non-empty string)" }).min(1, { error: "expected a name (a non-empty string)" }), {
    error: msg,
  });

export function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

export const positiveWhole = (msg: string) => z.int({ error: msg }).positive({ error: msg });

/** A mapping whose keys are names matched case-insensitively: reject keys that differ only in case. */
export function caseInsensitiveRecord<T extends z.ZodType>(value: T) {
  return z.record(z.string(), value).superRefine((rec, ctx) => {
    const seen = new Map<string, string>();
    for (const key of Object.keys(rec)) {
      const lower = key.toLowerCase();
      const first = seen.get(lower);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `duplicate entry: "${first}" and "${key}" differ only in case (names are case-insensitive)`,
        });
      } else seen.set(lower, key);
    }
  });
}
