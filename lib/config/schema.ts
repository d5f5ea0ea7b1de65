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
import { clientEntrySchema, groupEntrySchema, modelAccessBlockSchema, rateLimitsBlockSchema } from "./clients-schema";
import { endpointSchema, modelSchema } from "./models-schema";
import { caseInsensitiveRecord, nullable, section } from "./schema-blocks";
import {
  adminsSchema,
  apiSchema,
  appSchema,
  authSchema,
  dataSchema,
  defaultsSchema,
  keysSchema,
  metricsSchema,
  rateLimitsSchema,
} from "./settings-schema";

// Of the building blocks, what readers of a config use; every section schema.
export {
  canonicalAccess,
  CANONICAL_ACCESS_WORDS,
  ENDPOINT_BUILTIN_ECHO,
  isHttpUrl,
  LEGACY_ACCESS_WORDS,
  LEGACY_LIST_KEYS,
  MSG,
  type AccessWord,
} from "./schema-blocks";
export * from "./clients-schema";
export * from "./models-schema";
export * from "./settings-schema";
export * from "./legacy-warnings";

export const configSchema = z
  .strictObject({
    app: section(appSchema),
    auth: section(authSchema),
    admins: nullable(adminsSchema.default([])),
    api: section(apiSchema),
    keys: section(keysSchema),
    metrics: section(metricsSchema),
    data: section(dataSchema),
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
