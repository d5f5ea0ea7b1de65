"use client";

import { revokeApiKeyAction } from "@/app/(console)/clients/[id]/key-actions";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";

/** "Revoke" on a key row, behind a confirmation naming the key. The row leaves the table on success. */
export function RevokeKeyButton({ clientId, keyId, name }: { clientId: string; keyId: string; name: string }) {
  return (
    <ConfirmDialog
      trigger={
        <Button variant="outline" size="sm" aria-label={`Revoke key ${name}`} data-testid="revoke-key">
          Revoke
        </Button>
      }
      title={<>Revoke the key “{name}”?</>}
      description="Services using it are refused from their next request. Its usage stays in the totals. This cannot be undone."
      fields={{ clientId, keyId }}
      action={revokeApiKeyAction}
      confirmLabel="Revoke key"
      pendingLabel="Revoking…"
      confirmTestId="confirm-revoke"
      errorId={`revoke-${keyId}-error`}
    />
  );
}
