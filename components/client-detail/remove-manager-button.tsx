"use client";

import { removeManagerAction } from "@/app/(console)/clients/[id]/manager-actions";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";

interface Props {
  clientId: string;
  clientName: string;
  userId: string;
  name: string | null;
  email: string;
}

export function RemoveManagerButton({ clientId, clientName, userId, name, email }: Props) {
  return (
    <ConfirmDialog
      trigger={
        <Button variant="ghost" size="sm" className="text-destructive hover:text-destructive" data-testid="remove-manager">
          Remove<span className="sr-only"> {name ?? email}</span>
        </Button>
      }
      title="Remove manager?"
      description={
        <>
          <span className="font-medium break-all text-foreground">{name ? `${name} (${email})` : email}</span> will no
          longer manage <span className="font-medium break-all text-foreground">{clientName}</span>: they lose access to
          its API keys and usage (unless they are an administrator). Keys they created keep working.
        </>
      }
      fields={{ clientId, userId }}
      action={removeManagerAction}
      confirmLabel="Remove"
      pendingLabel="Removing…"
      confirmTestId="confirm-remove-manager"
      errorId={`remove-manager-error-${userId}`}
    />
  );
}
