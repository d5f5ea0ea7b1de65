import * as React from "react";

import { cn } from "@/lib/utils";

export interface Choice {
  value: string;
  label: React.ReactNode;
  disabled?: boolean;
  /** Why a choice is disabled, or what it means; read by screen readers with the choice. */
  note?: string;
}

interface ChoiceGroupProps {
  /** The form field name: the choice is submitted like any radio button. */
  name: string;
  legend: React.ReactNode;
  choices: readonly Choice[];
  value: string;
  onValueChange: (value: string) => void;
  /** Ids of help and error text. */
  describedBy?: string;
  invalid?: boolean;
  className?: string;
  testId?: string;
}

/**
 * A row of options as bordered pills over native radio buttons: arrow keys move between them, the
 * legend names the group for screen readers, and the form posts the value without any script.
 */
function ChoiceGroup({ name, legend, choices, value, onValueChange, describedBy, invalid, className, testId }: ChoiceGroupProps) {
  const id = React.useId();
  return (
    <fieldset className={cn("grid gap-2", className)} aria-describedby={describedBy} aria-invalid={invalid || undefined} data-testid={testId}>
      <legend className="mb-2 text-sm leading-none font-medium">{legend}</legend>
      <div className="flex flex-wrap gap-2">
        {choices.map((c) => {
          const inputId = `${id}-${c.value}`;
          return (
            <label
              key={c.value}
              htmlFor={inputId}
              title={c.note}
              className={cn(
                "relative inline-flex h-8 cursor-pointer items-center rounded-md border px-3 text-sm shadow-xs transition-colors select-none",
                "hover:bg-accent has-[:checked]:border-primary has-[:checked]:bg-primary has-[:checked]:text-primary-foreground",
                "has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-ring has-[:focus-visible]:ring-offset-2 has-[:focus-visible]:ring-offset-background",
                "has-[:disabled]:cursor-not-allowed has-[:disabled]:opacity-45 has-[:disabled]:hover:bg-transparent",
                invalid && "border-destructive/60",
              )}
            >
              <input
                id={inputId}
                type="radio"
                name={name}
                value={c.value}
                checked={value === c.value}
                disabled={c.disabled}
                onChange={() => onValueChange(c.value)}
                className="sr-only"
                aria-describedby={c.note ? `${inputId}-note` : undefined}
              />
              {c.label}
              {c.note && (
                <span id={`${inputId}-note`} className="sr-only">
                  {` (${c.note})`}
                </span>
              )}
            </label>
          );
        })}
      </div>
    </fieldset>
  );
}

export { ChoiceGroup };
