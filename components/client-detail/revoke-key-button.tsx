"use client";

import { createContext, useContext, useState, type ReactNode } from "react";
import { revokeApiKeyAction } from "@/app/(console)/clients/[id]/key-actions";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";

type Target = { keyId: string; name: string };
const RevokeContext = createContext<(target: Target) => void>(() => {});

/**
 * One confirmation dialog for the whole key table: each row renders only a small button, so a page of
 * keys stays cheap to render and to send.
 */
export function RevokeKeyProvider({ clientId, children }: { clientId: string; children: ReactNode }) {
  const [target, setTarget] = useState<Target | null>(null);
  const [open, setOpen] = useState(false);
  return (
    <RevokeContext.Provider
      value={(t) => {
        setTarget(t);
        setOpen(true);
      }}
    >
      {children}
      {target && (
        <ConfirmDialog
          open={open}
          onOpenChange={setOpen}
          title={<>Revoke the key “{target.name}”?</>}
          description="Services using it are refused from their next request. Its usage stays in the totals. This cannot be undone."
          fields={{ clientId, keyId: target.keyId }}
          action={revokeApiKeyAction}
          confirmLabel="Revoke key"
          pendingLabel="Revoking…"
          confirmTestId="confirm-revoke"
          errorId="revoke-key-error"
        />
      )}
    </RevokeContext.Provider>
  );
}

/** "Revoke" on a key row; opens the table's shared confirmation naming the key. */
export function RevokeKeyButton({ keyId, name }: Target) {
  const open = useContext(RevokeContext);
  return (
    <Button variant="outline" size="sm" aria-label={`Revoke key ${name}`} data-testid="revoke-key" onClick={() => open({ keyId, name })}>
      Revoke
    </Button>
  );
}
