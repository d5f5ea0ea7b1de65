/**
 * The models: entries of config.yaml: access, prices, limits and upstream endpoints.
 */
import { z } from "zod";
import { accessWordInput, canonicalAccess, ENDPOINT_BUILTIN_ECHO, isHttpUrl, MSG, nonNegative, type AccessWord } from "./schema-blocks";

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
