import * as React from "react";

import { FieldError } from "@/components/ui/field-error";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";

type TextFieldProps = Omit<React.ComponentProps<typeof Input>, "id"> & {
  /** The input's id; `${id}-help` and `${id}-error` name its help line and its errors. */
  id: string;
  label: React.ReactNode;
  /** A line under the field, read by screen readers with it. */
  help?: React.ReactNode;
  errors?: readonly string[] | null;
  /** Classes of the input; `className` styles the field (label, input, help, errors). */
  inputClassName?: string;
};

/** A labelled Input with its help line and its errors, wired for screen readers (aria-invalid, aria-describedby). */
function TextField({ id, label, help, errors, className, inputClassName, ...input }: TextFieldProps) {
  const helpId = help ? `${id}-help` : null;
  const describedBy = errors ? (helpId ? `${id}-error ${helpId}` : `${id}-error`) : (helpId ?? undefined);
  return (
    <div className={cn("grid gap-2", className)}>
      <Label htmlFor={id}>{label}</Label>
      <Input id={id} className={inputClassName} aria-invalid={Boolean(errors)} aria-describedby={describedBy} {...input} />
      {help && (
        <p id={helpId!} className="text-xs text-muted-foreground">
          {help}
        </p>
      )}
      <FieldError id={`${id}-error`} errors={errors} />
    </div>
  );
}

export { TextField, type TextFieldProps };
