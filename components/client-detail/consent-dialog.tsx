"use client";

import { useState } from "react";
import { ShieldAlert } from "lucide-react";
import { grantConsentAction } from "@/app/(console)/clients/[id]/consent-actions";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from "@/components/ui/dialog";
import { FieldError } from "@/components/ui/field-error";
import { renderSafeMarkdown } from "@/components/safe-markdown";
import { useFormAction } from "@/components/forms/use-form-action";
import { allMessages } from "@/lib/forms/action-state";

interface ConsentDialogProps {
  clientId: string;
  clientName: string;
  model: string;
  /** The model's `ack_message` from config.yaml (Markdown subset, rendered safely). */
  ackMessage: string | null;
}

/** The "Needs consent" status button and the acknowledgement dialog behind it. */
export function ConsentDialog({ clientId, clientName, model, ackMessage }: ConsentDialogProps) {
  const [open, setOpen] = useState(false);
  const [state, action, pending] = useFormAction(grantConsentAction, { onDone: () => setOpen(false) });
  const paragraphs = renderSafeMarkdown(ackMessage);

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button
          variant="outline"
          size="sm"
          className="h-6 gap-1 border-warning bg-warning/15 px-2 text-xs text-warning-foreground hover:bg-warning/25"
          data-testid={`consent-${model}`}
        >
          <ShieldAlert aria-hidden />
          Needs consent
          <span className="sr-only">: review {model}</span>
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-lg">
        <form action={action} className="grid gap-4">
          <DialogHeader>
            <DialogTitle className="break-all">Consent for {model}</DialogTitle>
            <DialogDescription>
              This model requires a manager&apos;s acknowledgement before{" "}
              <span className="font-medium break-all text-foreground">{clientName}</span> can use it. Your consent is
              recorded with your name and the time.
            </DialogDescription>
          </DialogHeader>
          <div
            className="grid max-h-80 gap-3 overflow-y-auto rounded-md border bg-muted/40 p-3 text-sm leading-relaxed break-words [&_code]:rounded [&_code]:bg-muted [&_code]:px-1 [&_code]:font-mono"
            data-testid="ack-message"
          >
            {paragraphs.length > 0 ? (
              paragraphs
            ) : (
              <p className="text-muted-foreground">The model has no acknowledgement text; accepting records your consent.</p>
            )}
          </div>
          <input type="hidden" name="clientId" value={clientId} />
          <input type="hidden" name="model" value={model} />
          {/* The text shown, recorded with the consent; refused if config.yaml changed it meanwhile. */}
          <input type="hidden" name="ack" value={ackMessage ?? ""} />
          <FieldError id={`consent-error-${model}`} errors={allMessages(state)} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending}>
              {pending ? "Recording…" : "Accept for this client"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
