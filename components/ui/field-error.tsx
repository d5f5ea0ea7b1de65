import * as React from "react";

import { cn } from "@/lib/utils";

type FieldErrorProps = {
  /** Referenced by the field's aria-describedby. */
  id: string;
  errors?: readonly string[] | null;
  className?: string;
};

/**
 * Validation message(s) for one form field. Renders nothing when there are no errors.
 * Usage: <Input aria-invalid={!!errs?.length} aria-describedby={errs?.length ? "name-error" : undefined} />
 *        <FieldError id="name-error" errors={errs} />
 */
function FieldError({ id, errors, className }: FieldErrorProps) {
  const messages = (errors ?? []).filter((m) => m.trim() !== "");
  if (messages.length === 0) return null;
  return (
    <p id={id} role="alert" data-slot="field-error" className={cn("text-sm text-destructive", className)}>
      {messages.join(" ")}
    </p>
  );
}

export { FieldError, type FieldErrorProps };
