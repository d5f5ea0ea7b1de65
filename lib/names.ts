import { z } from "zod";

/**
 * A name typed by a person: NFC-normalized and trimmed, 1–`max` characters (code points, not bytes).
 * `rules` adds the name's own checks; each violation becomes one message shown next to the field.
 */
export function typedNameSchema(max: number, rules: (name: string) => string[]) {
  return z
    .string({ message: "Enter a name." })
    .transform((s) => s.normalize("NFC").trim())
    .superRefine((name, ctx) => {
      const length = [...name].length;
      if (length === 0) {
        ctx.addIssue({ code: "custom", message: "Enter a name." });
        return;
      }
      if (length > max) ctx.addIssue({ code: "custom", message: `Use at most ${max} characters (this has ${length}).` });
      for (const message of rules(name)) ctx.addIssue({ code: "custom", message });
    });
}
