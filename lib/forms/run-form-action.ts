/**
 * The one way a console server action runs (adapter code: it speaks Next's navigation API). It parses
 * the posted fields with the action's zod schema, runs the domain command, and maps its outcome to an
 * `ActionState` — each `DomainError` code in this one place:
 *
 * - `not_found` → Next's not-found page (`notFound()`), `forbidden` → the forbidden page (`forbidden()`):
 *   the same answers the pages give, so a refusal reads the same wherever it happens;
 * - `unauthenticated` → the sign-in page;
 * - `invalid` / `conflict` → `{ ok: false }` with the field errors next to the fields and the typed values;
 * - anything else is logged (never shown) and answers a generic "Something went wrong".
 *
 * Next's own control flow thrown by the command (`redirect()`, `notFound()`…) passes through.
 */
import { forbidden, notFound, redirect, unstable_rethrow } from "next/navigation";
import type { z } from "zod";
import { isDomainError, type DomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";
import type { ActionState, FieldErrors, FormValues } from "./action-state";

/** A value kept for the form is at most this long: enough for any field, never an echo of a huge post. */
const KEPT_VALUE_MAX = 1_000;

export const NOT_UNDERSTOOD = "That request was not understood. Reload the page and try again.";

export interface FormActionSpec<S extends z.ZodType, F extends string> {
  /** The posted fields: a zod object schema, fed each of its keys from the FormData (absent → undefined). */
  schema: S;
  /** Fields whose typed values come back with a refusal, for the form to show them again. */
  keep?: readonly F[];
  /** What the action does, for the log and the fallback message: "creating the client". */
  what: string;
  /** Parsed fields named in the log line of an unexpected failure (ids, never typed text). */
  logged?: readonly (keyof z.output<S> & string)[];
}

/** The form's fields named by the schema: strings as posted, files and absent fields as undefined. */
function fieldsOf(formData: FormData, schema: z.ZodType): Record<string, string | undefined> {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
  const out: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = formData.get(key);
    out[key] = typeof value === "string" ? value : undefined;
  }
  return out;
}

function keptValues<F extends string>(formData: FormData, keep: readonly F[] | undefined): FormValues<F> {
  const values: FormValues<F> = {};
  for (const key of keep ?? []) {
    const value = formData.get(key);
    values[key] = typeof value === "string" ? value.slice(0, KEPT_VALUE_MAX) : "";
  }
  return values;
}

/**
 * The refusal a domain error becomes, or never (not found, forbidden and signed out leave for their pages).
 * Exported for the adapters that answer something other than a form state (the user search).
 */
export function domainRefusal<F extends string>(err: DomainError): FieldErrors<F> {
  switch (err.code) {
    case "not_found":
      notFound();
    case "forbidden":
      forbidden();
    case "unauthenticated":
      redirect("/signin");
    case "invalid":
    case "conflict":
      return (err.fieldErrors as FieldErrors<F> | undefined) ?? ({ form: [err.message] } as FieldErrors<F>);
  }
}

export async function runFormAction<S extends z.ZodType, D = void, F extends string = never>(
  formData: FormData,
  spec: FormActionSpec<S, F>,
  run: (input: z.output<S>) => Promise<D>,
): Promise<ActionState<D, F>> {
  const values = keptValues(formData, spec.keep);
  const input = spec.schema.safeParse(fieldsOf(formData, spec.schema));
  if (!input.success) return { ok: false, errors: { form: [NOT_UNDERSTOOD] } as FieldErrors<F>, values };
  try {
    const data = await run(input.data);
    return (data === undefined ? { ok: true } : { ok: true, data }) as ActionState<D, F>;
  } catch (err) {
    unstable_rethrow(err);
    if (isDomainError(err)) return { ok: false, errors: domainRefusal<F>(err), values };
    const context = Object.fromEntries((spec.logged ?? []).map((key) => [key, (input.data as Record<string, unknown>)[key]]));
    log.error(`${spec.what} failed`, { ...context, ...errorFields(err) });
    return { ok: false, errors: { form: [`Something went wrong while ${spec.what}. Please try again.`] } as FieldErrors<F>, values };
  }
}
