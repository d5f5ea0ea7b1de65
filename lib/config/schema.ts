/**
 * Schema of config.yaml (SPEC section 8).
 *
 * Every section is optional and has defaults, so an empty file is a valid configuration.
 * Objects are strict: an unknown key is an error that names the key.
 *
 * The older access vocabulary (SPEC section 7) is accepted on input and normalised on output:
 * `whitelist` → allowed, `blacklist` → blocked, `graylist` → allowed + needs consent.
 * The parsed (output) types use only the canonical words. Deprecation warnings are produced by
 * `legacyWarnings()` (used by load.ts), because zod transforms cannot report paths.
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
function nullable<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === null ? undefined : v), schema);
}

/** A mapping that may be omitted or left empty; its inner defaults apply. */
function section<T extends z.ZodType>(schema: T) {
  return nullable(schema.prefault({} as z.input<T>));
}

const accessWordInput = z.enum(["allowed", "blocked", "whitelist", "blacklist", "graylist"], {
  error: MSG.access,
});

const nonNegative = (msg: string) => z.number({ error: msg }).min(0, { error: msg });

const poolMax = z
  .number({ error: MSG.max })
  .min(-2, { error: MSG.max, abort: true })
  .refine((v) => v === -2 || v >= 0, { error: MSG.maxGap });

const stringList = (msg: string) =>
  z.array(z.string({ error: "expected a name (a non-empty string)" }).min(1, { error: "expected a name (a non-empty string)" }), {
    error: msg,
  });

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

// ---------------------------------------------------------------------------
// model_access block
// ---------------------------------------------------------------------------

export const modelAccessBlockSchema = z
  .strictObject({
    default: accessWordInput.optional(),
    allowed: stringList(MSG.nameList).optional(),
    blocked: stringList(MSG.nameList).optional(),
    // legacy list keys
    whitelist: stringList(MSG.nameList).optional(),
    blacklist: stringList(MSG.nameList).optional(),
    graylist: stringList(MSG.nameList).optional(),
  })
  .superRefine((b, ctx) => {
    const allowed = new Set([...(b.allowed ?? []), ...(b.whitelist ?? []), ...(b.graylist ?? [])]);
    const both = uniq([...(b.blocked ?? []), ...(b.blacklist ?? [])]).filter((m) => allowed.has(m));
    if (both.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: [b.blocked ? "blocked" : "blacklist"],
        message: `${both.map((m) => JSON.stringify(m)).join(", ")} ${both.length === 1 ? "is" : "are"} listed as both allowed and blocked; keep each model in one list`,
      });
    }
  })
  .transform((b) => {
    const out: {
      /** The client's/group's own default, if set. */
      default?: AccessWord;
      /** Models explicitly allowed (includes legacy whitelist/graylist entries). */
      allowed: string[];
      /** Models explicitly blocked (includes legacy blacklist entries). */
      blocked: string[];
      /** Models allowed through the legacy `graylist: [...]` key: they need consent. Canonical configs leave it empty. */
      needs_ack: string[];
      /** True only when the legacy `default: graylist` was used: models allowed by this default need consent. */
      default_needs_ack: boolean;
    } = {
      allowed: uniq([...(b.allowed ?? []), ...(b.whitelist ?? []), ...(b.graylist ?? [])]),
      blocked: uniq([...(b.blocked ?? []), ...(b.blacklist ?? [])]),
      needs_ack: uniq(b.graylist ?? []),
      default_needs_ack: b.default === "graylist",
    };
    if (b.default !== undefined) out.default = canonicalAccess(b.default);
    return out;
  });

// ---------------------------------------------------------------------------
// Pools: groups and clients
// ---------------------------------------------------------------------------

const poolFields = {
  max: poolMax.optional(),
  refresh: nonNegative(MSG.refresh).optional(),
  starting: nonNegative(MSG.starting).optional(),
};

const positiveWhole = (msg: string) => z.int({ error: msg }).positive({ error: msg });

/** Rate limits (lib/gateway/rate-limits.ts): each one optional, unset = no limit of that kind. */
export const rateLimitFields = {
  rpm: positiveWhole(MSG.rpm).optional(),
  tpm: positiveWhole(MSG.tpm).optional(),
  max_parallel: positiveWhole(MSG.maxParallel).optional(),
};

export const rateLimitsBlockSchema = z.strictObject(rateLimitFields, {
  error: "expected a mapping of rate limits, e.g. {rpm: 60, tpm: 100000, max_parallel: 4}",
});

/** Next to the pool fields on clients and groups: limits of the client, and of each of its keys. */
const limitFields = {
  ...rateLimitFields,
  key_limits: nullable(rateLimitsBlockSchema).optional(),
};

export const groupEntrySchema = z.strictObject({
  ...poolFields,
  ...limitFields,
  model_access: nullable(modelAccessBlockSchema.prefault({})).optional(),
});

export const clientEntrySchema = z.strictObject({
  ...poolFields,
  ...limitFields,
  groups: stringList(MSG.groupList).optional(),
  model_access: nullable(modelAccessBlockSchema.prefault({})).optional(),
});

/** A mapping whose keys are names matched case-insensitively: reject keys that differ only in case. */
function caseInsensitiveRecord<T extends z.ZodType>(value: T) {
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

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

export const endpointSchema = z.strictObject({
  url: z.string({ error: MSG.url }).refine((u) => u === ENDPOINT_BUILTIN_ECHO || isHttpUrl(u), { error: MSG.url }),
  api_key: z.string({ error: "expected a string (the upstream API key)" }).optional(),
  model: z
    .string({ error: "expected the upstream model id (a non-empty string)" })
    .min(1, { error: "expected the upstream model id (a non-empty string)" })
    .optional(),
  latency_ms: z.int({ error: MSG.ms }).min(0, { error: MSG.ms }).optional(),
  chunk_delay_ms: z.int({ error: MSG.ms }).min(0, { error: MSG.ms }).optional(),
});

const modelName = z
  .string({ error: "expected a model name (a non-empty string)" })
  .min(1, { error: "expected a model name (a non-empty string)" })
  .refine((s) => s.trim() === s, { error: "expected a model name without leading or trailing spaces" });

export const modelSchema = z
  .strictObject({
    name: modelName,
    access: accessWordInput.optional(),
    needs_ack: z.boolean({ error: MSG.bool }).default(false),
    ack_message: z.string({ error: "expected a text (the acknowledgement shown before consent)" }).optional(),
    disabled: z.boolean({ error: MSG.bool }).default(false),
    input_cost_per_million: nonNegative(MSG.cost).default(0),
    output_cost_per_million: nonNegative(MSG.cost).default(0),
    max_output_tokens: z
      .int({ error: "expected a whole number > 0 (tokens)" })
      .min(1, { error: "expected a whole number > 0 (tokens)" })
      .optional(),
    /** Audio transcription and translation billed per second of audio: this price per hour / 3600. */
    audio_cost_per_hour: nonNegative(MSG.audioCost).default(0),
    endpoints: z
      .array(endpointSchema, { error: "expected a list of endpoints, e.g. [{url: \"builtin:echo\"}]" })
      .min(1, { error: "expected at least one endpoint" }),
  })
  .transform((m) => {
    const { access, needs_ack, ...rest } = m;
    const out: Omit<typeof m, "access"> & { access?: AccessWord } = {
      ...rest,
      needs_ack: needs_ack || access === "graylist",
    };
    if (access !== undefined) out.access = canonicalAccess(access);
    return out;
  });

// ---------------------------------------------------------------------------
// Top-level sections
// ---------------------------------------------------------------------------

export const appSchema = z.strictObject({
  name: z.string({ error: "expected a text" }).min(1, { error: "expected a non-empty text" }).default("Lumen"),
  base_url: z
    .string({ error: MSG.httpUrl })
    .refine(isHttpUrl, { error: `${MSG.httpUrl} (the public origin, e.g. https://lumen.example.org)` })
    .default("http://localhost:3000"),
  data_dir: z.string({ error: "expected a directory path" }).min(1, { error: "expected a directory path" }).default("./.lumen"),
  /**
   * true: Lumen runs behind a reverse proxy that sets X-Forwarded-* (and strips them from callers);
   * only then are those headers passed on. The public origin always comes from base_url.
   */
  trust_proxy: z.boolean({ error: MSG.bool }).default(false),
});

const SESSION_HOURS_MAX = "expected a number of hours > 0 and ≤ 8760 (how long a single sign-on session may last)";
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;

export const oidcSchema = z.strictObject({
  issuer: z.string({ error: `${MSG.httpUrl} (the OpenID Connect issuer)` }).refine(isHttpUrl, {
    error: `${MSG.httpUrl} (the OpenID Connect issuer)`,
  }),
  client_id: z.string({ error: "expected the OIDC client id (a non-empty string)" }).min(1, {
    error: "expected the OIDC client id (a non-empty string)",
  }),
  /** May be omitted and given by env AUTH_OIDC_CLIENT_SECRET instead (load.ts fills it in). */
  client_secret: z.string({ error: "expected a string (or set env AUTH_OIDC_CLIENT_SECRET)" }).optional(),
  name: z.string({ error: "expected a text (the sign-in button label)" }).min(1).default("Single sign-on"),
  /** Refuse identities whose provider does not assert `email_verified: true`. */
  require_verified_email: z.boolean({ error: MSG.bool }).default(true),
  /** Only e-mail addresses in these domains may sign in (exact domain, case-insensitive); unset = any. */
  allowed_domains: z
    .array(
      z
        .string({ error: "expected a domain name, e.g. example.org" })
        .trim()
        .toLowerCase()
        .refine((d) => DOMAIN.test(d), { error: "expected a domain name, e.g. example.org" }),
      { error: "expected a list of domain names, e.g. [example.org]" },
    )
    .min(1, { error: "expected at least one domain (or leave allowed_domains out to allow any)" })
    .optional(),
  /** The scopes asked for (space-separated); some providers send groups only for an extra scope. */
  scope: z
    .string({ error: "expected the scopes to ask for, e.g. \"openid email profile\"" })
    .trim()
    .refine((s) => s.split(/\s+/).includes("openid"), { error: "expected a list of scopes that includes openid" })
    .default("openid email profile"),
  /** The claim (ID token or userinfo) that lists the person's groups. */
  groups_claim: z.string({ error: "expected a claim name, e.g. groups" }).trim().min(1, { error: "expected a claim name, e.g. groups" }).default("groups"),
  /** Members of any of these groups (exact names, as the provider sends them) are administrators. */
  admin_groups: z
    .array(z.string({ error: "expected a group name" }).trim().min(1, { error: "expected a group name" }), {
      error: "expected a list of group names, e.g. [lumen-admins]",
    })
    .default([]),
  /**
   * A single sign-on session ends this many hours after sign-in even while in use, so group changes
   * at the provider reach Lumen (admin_groups) at the latest then.
   */
  reauthenticate_hours: z
    .number({ error: SESSION_HOURS_MAX })
    .positive({ error: SESSION_HOURS_MAX })
    .max(8760, { error: SESSION_HOURS_MAX })
    .default(24),
});

const SESSION_HOURS = "expected a number of hours > 0 and ≤ 8760 (how long a session lasts without use)";

export const authSchema = z.strictObject({
  dev_login: z.boolean({ error: MSG.bool }).default(false),
  /** A session ends after this many hours without a request (rolling). */
  session_hours: z
    .number({ error: SESSION_HOURS })
    .positive({ error: SESSION_HOURS })
    .max(8760, { error: SESSION_HOURS })
    .default(12),
  oidc: nullable(oidcSchema).optional(),
});

const EMAIL = /^[^\s@]+@[^\s@]+$/;
export const adminsSchema = z.array(
  z
    .string({ error: "expected an e-mail address" })
    .trim()
    .refine((s) => EMAIL.test(s), { error: "expected an e-mail address" }),
  { error: "expected a list of e-mail addresses, e.g. [admin@example.org]" },
);

const MONITORING_TOKEN = "expected a text of at least 16 characters without spaces (the monitoring bearer token)";
const REDIS_URL = "expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379";

export const apiSchema = z.strictObject({
  require_consent: z.boolean({ error: MSG.bool }).default(true),
  upstream_timeout_s: z
    .number({ error: "expected a number of seconds > 0" })
    .positive({ error: "expected a number of seconds > 0" })
    .default(600),
  shutdown_grace_s: z
    .number({ error: "expected a number of seconds ≥ 0" })
    .min(0, { error: "expected a number of seconds ≥ 0" })
    .default(30),
  db_timeout_ms: z
    .int({ error: "expected a whole number of milliseconds > 0" })
    .positive({ error: "expected a whole number of milliseconds > 0" })
    .default(2000),
  /** The largest `n` (or `best_of`) a request may ask for; the estimate reserves output for each. */
  max_n: z.int({ error: MSG.maxN }).min(1, { error: MSG.maxN }).max(1024, { error: MSG.maxN }).default(8),
  /** Non-streaming upstream answers larger than this (MB, fractions allowed) are cut off: 502. */
  max_response_mb: z
    .number({ error: "expected a number of megabytes > 0" })
    .positive({ error: "expected a number of megabytes > 0" })
    .default(64),
  /** A read-only bearer token for monitoring: GET /v1/models[/{id}] (every active model), nothing else. */
  monitoring: section(
    z.strictObject({
      token: z
        .string({ error: MONITORING_TOKEN })
        .min(16, { error: MONITORING_TOKEN })
        .refine((t) => t.trim() === t && !/\s/.test(t), { error: MONITORING_TOKEN })
        .optional(),
    }),
  ),
});

/** Where rate-limit counters live (lib/gateway/rate-limits.ts). */
export const rateLimitsSchema = z.strictObject({
  /** redis://… shares the counters between instances; unset keeps them in this process. */
  storage_url: z
    .string({ error: REDIS_URL })
    .refine((u) => /^rediss?:\/\/./i.test(u) && URL.canParse(u), { error: REDIS_URL })
    .optional(),
  /** Prefix of every Redis key, so that several Lumen installations can share one Redis. */
  key_prefix: z
    .string({ error: "expected a text (the Redis key prefix)" })
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, { error: "expected 1–64 letters, digits or : _ . -" })
    .default("lumen"),
});

const LIFETIME_MSG = "expected a whole number of days between 1 and 36500 (the longest an API key may live)";

export const keysSchema = z.strictObject({
  /** Caps the expiry of new API keys for everyone (managers and admins); unset: keys may never expire. */
  max_lifetime_days: z.int({ error: LIFETIME_MSG }).min(1, { error: LIFETIME_MSG }).max(36_500, { error: LIFETIME_MSG }).optional(),
});

export const metricsSchema = z
  .strictObject({
    enabled: z.boolean({ error: MSG.bool }).default(false),
    token: z.string({ error: "expected a text (the bearer token Prometheus must send)" }).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.enabled && !m.token) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: "required when metrics.enabled is true (the bearer token Prometheus must send to /metrics)",
      });
    }
  });

export const defaultsSchema = z
  .strictObject({
    model_access: accessWordInput.default("blocked"),
  })
  .transform((d) => ({
    model_access: canonicalAccess(d.model_access),
    /** True only when the legacy `model_access: graylist` was used: models allowed by this default need consent. */
    model_access_needs_ack: d.model_access === "graylist",
  }));

export const configSchema = z
  .strictObject({
    app: section(appSchema),
    auth: section(authSchema),
    admins: nullable(adminsSchema.default([])),
    api: section(apiSchema),
    keys: section(keysSchema),
    metrics: section(metricsSchema),
    rate_limits: section(rateLimitsSchema),
    defaults: section(defaultsSchema),
    groups: nullable(caseInsensitiveRecord(nullable(groupEntrySchema.prefault({}))).default({})),
    /** `{}`, null and an empty entry all mean "use clients.default"; null is normalised to `{}`. */
    clients: nullable(caseInsensitiveRecord(nullable(clientEntrySchema.prefault({}))).default({})),
    models: nullable(
      z
        .array(modelSchema, { error: "expected a list of models (each starting with `- name: …`)" })
        .superRefine((models, ctx) => {
          const seen = new Map<string, number>();
          models.forEach((m, i) => {
            const first = seen.get(m.name);
            if (first !== undefined) {
              ctx.addIssue({
                code: "custom",
                path: [i, "name"],
                message: `duplicate model name "${m.name}" (already used by models[${first}])`,
              });
            } else seen.set(m.name, i);
          });
        })
        .default([]),
    ),
  })
  .superRefine((c, ctx) => {
    const groupKeys = new Map(Object.keys(c.groups).map((g) => [g.toLowerCase(), g]));
    for (const [name, entry] of Object.entries(c.clients)) {
      (entry.groups ?? []).forEach((g, i) => {
        if (!groupKeys.has(g.toLowerCase())) {
          const defined = [...groupKeys.values()];
          ctx.addIssue({
            code: "custom",
            path: ["clients", name, "groups", i],
            message: `unknown group "${g}" (${defined.length ? `defined groups: ${defined.join(", ")}` : "no groups are defined under groups:"})`,
          });
        }
      });
    }
  });

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export type LumenConfig = z.output<typeof configSchema>;
export type LumenConfigInput = z.input<typeof configSchema>;
export type ModelConfig = z.output<typeof modelSchema>;
export type EndpointConfig = z.output<typeof endpointSchema>;
export type ClientEntry = z.output<typeof clientEntrySchema>;
export type GroupEntry = z.output<typeof groupEntrySchema>;
export type ModelAccessBlock = z.output<typeof modelAccessBlockSchema>;
export type RateLimitsBlock = z.output<typeof rateLimitsBlockSchema>;

// ---------------------------------------------------------------------------
// Deprecation warnings for the legacy vocabulary
// ---------------------------------------------------------------------------

type PathSeg = string | number;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Lists every use of the legacy vocabulary in a raw (already schema-valid) document.
 * Returns `[path, message]` pairs; load.ts formats them with the file name.
 */
export function legacyWarnings(raw: unknown): Array<{ path: PathSeg[]; message: string }> {
  const out: Array<{ path: PathSeg[]; message: string }> = [];
  if (!isRecord(raw)) return out;

  const defaultWord = (value: unknown, path: PathSeg[], key: string) => {
    if (value === "whitelist") out.push({ path, message: `"whitelist" is deprecated; use ${key}: allowed` });
    else if (value === "blacklist") out.push({ path, message: `"blacklist" is deprecated; use ${key}: blocked` });
    else if (value === "graylist")
      out.push({
        path,
        message: `"graylist" is deprecated; use ${key}: allowed and set needs_ack: true on the models that require consent`,
      });
  };

  const block = (value: unknown, path: PathSeg[]) => {
    if (!isRecord(value)) return;
    defaultWord(value.default, [...path, "default"], "default");
    if (value.whitelist !== undefined)
      out.push({ path: [...path, "whitelist"], message: `"whitelist" is deprecated; use allowed: [...]` });
    if (value.blacklist !== undefined)
      out.push({ path: [...path, "blacklist"], message: `"blacklist" is deprecated; use blocked: [...]` });
    if (value.graylist !== undefined)
      out.push({
        path: [...path, "graylist"],
        message: `"graylist" is deprecated; use allowed: [...] and set needs_ack: true on those models`,
      });
  };

  if (isRecord(raw.defaults)) defaultWord(raw.defaults.model_access, ["defaults", "model_access"], "model_access");
  for (const sectionName of ["groups", "clients"] as const) {
    const sec = raw[sectionName];
    if (!isRecord(sec)) continue;
    for (const [name, entry] of Object.entries(sec)) {
      if (isRecord(entry)) block(entry.model_access, [sectionName, name, "model_access"]);
    }
  }
  if (Array.isArray(raw.models)) {
    raw.models.forEach((m: unknown, i) => {
      if (!isRecord(m)) return;
      const path: PathSeg[] = ["models", i, "access"];
      if (m.access === "whitelist") out.push({ path, message: `"whitelist" is deprecated; use access: allowed` });
      else if (m.access === "blacklist") out.push({ path, message: `"blacklist" is deprecated; use access: blocked` });
      else if (m.access === "graylist")
        out.push({ path, message: `"graylist" is deprecated; use access: allowed with needs_ack: true` });
    });
  }
  return out;
}
