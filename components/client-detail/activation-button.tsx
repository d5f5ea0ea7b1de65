"use client";

import { Power, PowerOff } from "lucide-react";
import { setActiveAction } from "@/app/(console)/clients/[id]/activation-actions";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { FieldError } from "@/components/ui/field-error";
import { useFormAction } from "@/components/forms/use-form-action";
import { allMessages } from "@/lib/forms/action-state";

interface Props {
  clientId: string;
  clientName: string;
  active: boolean;
}

/**
 * The header's Activate / Deactivate control, rendered for admins only (the server re-checks).
 * Deactivating asks for confirmation; activating does not.
 */
export function ActivationButton({ clientId, clientName, active }: Props) {
  if (active) {
    return (
      <ConfirmDialog
        trigger={
          <Button
            variant="outline"
            className="border-destructive/50 text-destructive hover:bg-destructive/10 hover:text-destructive"
            data-testid="deactivate-client"
          >
            <PowerOff aria-hidden /> Deactivate
          </Button>
        }
        title={
          <>
            Deactivate <span className="break-all">{clientName}</span>?
          </>
        }
        description="All of this client's API keys stop working at once: the API refuses them until the client is activated again. Nothing is deleted — keys, managers, coin pool and usage history are kept."
        fields={{ clientId, active: "false" }}
        action={setActiveAction}
        confirmLabel="Deactivate"
        pendingLabel="Deactivating…"
        confirmTestId="confirm-deactivate"
        errorId="deactivation-error"
      />
    );
  }
  return <ActivateButton clientId={clientId} />;
}

function ActivateButton({ clientId }: { clientId: string }) {
  const [state, action, pending] = useFormAction(setActiveAction);
  return (
    <form action={action} className="flex items-center gap-2">
      <input type="hidden" name="clientId" value={clientId} />
      <input type="hidden" name="active" value="true" />
      <FieldError id="activation-error" errors={allMessages(state)} />
      <Button type="submit" variant="outline" disabled={pending} data-testid="activate-client">
        <Power aria-hidden /> {pending ? "Activating…" : "Activate"}
      </Button>
    </form>
  );
}
