/**
 * The settings sections of config.yaml: app, auth, admins, api, rate_limits, keys, metrics, data, defaults.
 */
import { z } from "zod";
import { accessWordInput, canonicalAccess, isHttpUrl, MSG, nullable, section } from "./schema-blocks";

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

const SSO_SESSION_HOURS = "expected a number of hours > 0 and ≤ 8760 (how long a single sign-on session may last)";
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
    .number({ error: SSO_SESSION_HOURS })
    .positive({ error: SSO_SESSION_HOURS })
    .max(8760, { error: SSO_SESSION_HOURS })
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
const LEASE_FRACTION = "expected a number > 0 and ≤ 1 (the share of a pool's max one instance's coin lease may hold, e.g. 0.1)";
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
  /**
   * Coin leases (lib/coins/lease.ts): requests of capped pools are admitted in memory against a slice of
   * the pool this instance holds, with no database round trip before the upstream call. Off: every
   * request reserves its estimate in the database.
   */
  coin_lease: section(
    z.strictObject({
      enabled: z.boolean({ error: MSG.bool }).default(true),
      /** The most of a pool's max one instance's lease aims to hold beyond the requests waiting for it. */
      max_fraction: z
        .number({ error: LEASE_FRACTION })
        .gt(0, { error: LEASE_FRACTION })
        .max(1, { error: LEASE_FRACTION })
        .default(0.1),
    }),
  ),
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

/** Default of `data.request_log_retention_days`: a bit more than a year, so a year-on-year look still finds its rows. */
export const DEFAULT_LOG_RETENTION_DAYS = 400;
const RETENTION_MSG = `expected a whole number of days between 1 and 36500 (how long request-log rows are kept; 0 or absent: ${DEFAULT_LOG_RETENTION_DAYS})`;

/** The stored data: how long the request log keeps its rows (counters and daily rollups are kept forever). */
export const dataSchema = z.strictObject({
  request_log_retention_days: nullable(
    z
      .int({ error: RETENTION_MSG })
      .min(0, { error: RETENTION_MSG })
      .max(36_500, { error: RETENTION_MSG })
      .default(DEFAULT_LOG_RETENTION_DAYS)
      .transform((days) => days || DEFAULT_LOG_RETENTION_DAYS),
  ),
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
