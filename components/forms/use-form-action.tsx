"use client";

import { createContext, useActionState, useContext, useState, type ReactNode } from "react";
import { isHTTPAccessFallbackError } from "next/dist/client/components/http-access-fallback/http-access-fallback";
import { IDLE, type ActionState } from "@/lib/forms/action-state";

const ReportRefusal = createContext<(refusal: unknown) => void>(() => {});

/**
 * Shows the forbidden or not-found page for an action that `runFormAction` refused that way. The error
 * reaches the form's own component, but Next answers the action with a fresh render of the page, which
 * may no longer hold that form (an admin's button is gone once the admin is not one any more) — and an
 * unmounted component throws nothing. So the refusal is thrown again from here: a layout's child that
 * outlives the page's content, inside the console's forbidden/not-found boundary (app/(console)).
 */
export function ActionRefusals({ children }: { children: ReactNode }) {
  const [refusal, setRefusal] = useState<{ error: unknown } | null>(null);
  if (refusal) throw refusal.error;
  return <ReportRefusal.Provider value={(error) => setRefusal({ error })}>{children}</ReportRefusal.Provider>;
}

/**
 * `useActionState` for a console server action: starts idle, calls `onDone` with a successful state, and
 * hands a forbidden or not-found refusal to `ActionRefusals`.
 */
export function useFormAction<S extends ActionState<unknown, string>>(
  action: (prev: S, formData: FormData) => Promise<S>,
  { onDone }: { onDone?: (state: S) => void } = {},
) {
  const report = useContext(ReportRefusal);
  return useActionState<S, FormData>(async (prev, formData) => {
    try {
      const next = await action(prev, formData);
      if (next.ok) onDone?.(next);
      return next;
    } catch (err) {
      if (isHTTPAccessFallbackError(err)) report(err);
      throw err;
    }
  }, IDLE as Awaited<S>);
}
