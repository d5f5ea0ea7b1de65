import { CLIENT_NAME_MAX } from "@/lib/name-limits";
import { typedNameSchema } from "@/lib/names";

/** Letters (any script), digits, "-", "_", "."; starting with a letter or digit. */
const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{M}\p{N}_.-]*$/u;
const RESERVED = new Set(["default"]);

/** Server-side rules for a new client's name (SPEC §3). Uniqueness is checked against the database. */
export const clientNameSchema = typedNameSchema(CLIENT_NAME_MAX, (name) => {
  const problems: string[] = [];
  if (!NAME_PATTERN.test(name)) {
    problems.push(
      /^[\p{L}\p{N}]/u.test(name) ? "Use only letters, digits, “-”, “_” and “.” (no spaces)." : "Start with a letter or a digit.",
    );
  }
  if (RESERVED.has(name.toLowerCase())) problems.push("“default” is reserved for the defaults block in config.yaml.");
  return problems;
});

export type ClientNameResult = { ok: true; name: string } | { ok: false; errors: string[] };

export function validateClientName(raw: unknown): ClientNameResult {
  const parsed = clientNameSchema.safeParse(raw);
  if (parsed.success) return { ok: true, name: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => i.message) };
}
