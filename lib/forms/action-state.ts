/**
 * What every console server action answers — one shape for every form and confirmation (next-learn's
 * `State`). Types only: client components import it without pulling in server code.
 *
 * - `{}` before the form was sent (the initial state of `useActionState`);
 * - `{ ok: true, data? }` when it was done (`data` only when the action returns something, such as a new key);
 * - `{ ok: false, errors, values }` when it was refused as invalid: messages by field (`form` for the form as
 *   a whole), and what was typed, so the form shows it again.
 *
 * Not found and forbidden never come back as a state: they show those pages (`runFormAction`).
 */
export type FieldErrors<F extends string = string> = Partial<Record<F | "form", string[]>>;

export type FormValues<F extends string = string> = Partial<Record<F, string>>;

export type ActionState<D = void, F extends string = string> =
  | { ok?: undefined; data?: undefined; errors?: undefined; values?: undefined }
  | ({ ok: true; errors?: undefined; values?: undefined } & ([D] extends [void] ? { data?: undefined } : { data: D }))
  | { ok: false; data?: undefined; errors: FieldErrors<F>; values: FormValues<F> };

/** The state of a form not sent yet. */
export const IDLE = {} as const;

/** Every message of a refusal, for a form with no field to show them next to (a confirmation). */
export function allMessages<F extends string>(state: ActionState<unknown, F>): string[] | undefined {
  if (state.ok !== false) return undefined;
  return Object.values<string[] | undefined>(state.errors).flatMap((messages) => messages ?? []);
}
