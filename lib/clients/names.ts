import { z } from "zod";

export const CLIENT_NAME_MAX = 64;
/** Letters (any script), digits, "-", "_", "."; starting with a letter or digit. */
const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{M}\p{N}_.-]*$/u;
const RESERVED = new Set(["default"]);

/** Server-side rules for a new client's name (SPEC §3). Uniqueness is checked against the database. */
export const clientNameSchema = z
  .string({ message: "Enter a name." })
  .transform((s) => s.normalize("NFC").trim())
  .superRefine((name, ctx) => {
    const length = [...name].length;
    if (length === 0) {
      ctx.addIssue({ code: "custom", message: "Enter a name." });
      return;
    }
    if (length > CLIENT_NAME_MAX) {
      ctx.addIssue({ code: "custom", message: `Use at most ${CLIENT_NAME_MAX} characters (this has ${length}).` });
    }
    if (!NAME_PATTERN.test(name)) {
      ctx.addIssue({
        code: "custom",
        message: /^[\p{L}\p{N}]/u.test(name)
          ? "Use only letters, digits, “-”, “_” and “.” (no spaces)."
          : "Start with a letter or a digit.",
      });
    }
    if (RESERVED.has(name.toLowerCase())) {
      ctx.addIssue({ code: "custom", message: "“default” is reserved for the defaults block in config.yaml." });
    }
  });

export type ClientNameResult = { ok: true; name: string } | { ok: false; errors: string[] };

export function validateClientName(raw: unknown): ClientNameResult {
  const parsed = clientNameSchema.safeParse(raw);
  if (parsed.success) return { ok: true, name: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => i.message) };
}
