"use client";

import { useState } from "react";
import { rotateApiKeyAction } from "@/app/(console)/clients/[id]/key-actions";
import { LocalDate } from "@/components/clients/local-date";
import { Button } from "@/components/ui/button";
import { ChoiceGroup } from "@/components/ui/choice-group";
import { DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { FieldError } from "@/components/ui/field-error";
import { useFormAction } from "@/components/forms/use-form-action";
import { DEFAULT_GRACE, GRACE_CHOICES, type GraceChoice } from "@/lib/keys/expiry";
import { RevealKey } from "./reveal-key";

const GRACE_OPTIONS = (Object.keys(GRACE_CHOICES) as GraceChoice[]).map((g) => ({ value: g, label: GRACE_CHOICES[g].label }));

/**
 * The body of the Rotate dialog (inside the table's shared <Dialog>): choose the old secret's grace,
 * then the new secret is shown once. Remounted for every opening, which drops the secret.
 */
export function RotateKeyFlow({
  clientId,
  keyId,
  name,
  hint,
  onDone,
}: {
  clientId: string;
  keyId: string;
  name: string;
  hint: string;
  onDone: () => void;
}) {
  const [state, action, pending] = useFormAction(rotateApiKeyAction);
  const [grace, setGrace] = useState<string>(state.values?.grace ?? DEFAULT_GRACE);
  const rotated = state.data;
  return (
    <DialogContent className="sm:max-w-lg" onInteractOutside={rotated ? (e) => e.preventDefault() : undefined}>
      {rotated ? (
        <RevealKey
          title="Copy the new secret now"
          description={<>The key “{rotated.name}” has a new secret. Its name, expiry, usage and history stay the same.</>}
          plaintext={rotated.plaintext}
          onDone={onDone}
        >
          <p className="text-sm text-muted-foreground" data-testid="rotated-old-secret">
            {Date.parse(rotated.oldValidUntil) <= Date.now() + 1000 ? (
              <>
                The old secret <span className="font-mono text-xs">{rotated.oldHint}</span> no longer works.
              </>
            ) : (
              <>
                The old secret <span className="font-mono text-xs">{rotated.oldHint}</span> keeps working until{" "}
                <LocalDate iso={rotated.oldValidUntil} withTime />. Deploy the new one before then.
              </>
            )}
          </p>
        </RevealKey>
      ) : (
        <form action={action} className="grid gap-5">
          <DialogHeader>
            <DialogTitle className="leading-snug break-words">Rotate the key “{name}”?</DialogTitle>
            <DialogDescription>
              A new secret replaces <span className="font-mono text-xs">{hint}</span> and is shown once. The key keeps its
              name, expiry, usage and history.
            </DialogDescription>
          </DialogHeader>
          <input type="hidden" name="clientId" value={clientId} />
          <input type="hidden" name="keyId" value={keyId} />
          <div className="grid gap-2">
            <ChoiceGroup
              name="grace"
              legend="The old secret keeps working"
              choices={GRACE_OPTIONS}
              value={grace}
              onValueChange={setGrace}
              describedBy={["rotate-grace-help", state.errors?.grace && "rotate-grace-error"].filter(Boolean).join(" ")}
              invalid={Boolean(state.errors?.grace)}
              testId="rotate-grace"
            />
            <p id="rotate-grace-help" className="text-xs text-muted-foreground">
              {grace === "now"
                ? "Services still using the old secret are refused within a second."
                : "Time to deploy the new secret everywhere; you can end the grace early from the key's row."}
            </p>
            <FieldError id="rotate-grace-error" errors={state.errors?.grace} />
          </div>
          <FieldError id="rotate-form-error" errors={state.errors?.form} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={onDone}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending} data-testid="confirm-rotate">
              {pending ? "Rotating…" : "Rotate key"}
            </Button>
          </DialogFooter>
        </form>
      )}
    </DialogContent>
  );
}
