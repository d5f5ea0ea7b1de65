/**
 * The clients: and groups: entries of config.yaml: coin pool, rate limits and model_access block.
 */
import { z } from "zod";
import {
  accessWordInput,
  canonicalAccess,
  MSG,
  nonNegative,
  nullable,
  poolMax,
  positiveWhole,
  stringList,
  uniq,
  type AccessWord,
} from "./schema-blocks";

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
