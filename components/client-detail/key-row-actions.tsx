"use client";

import { createContext, useContext, useState, type ReactNode } from "react";
import { endKeyGraceAction, revokeApiKeyAction } from "@/app/(console)/clients/[id]/key-actions";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Dialog } from "@/components/ui/dialog";
import { RotateKeyFlow } from "./rotate-key-dialog";

type Target = { keyId: string; name: string; hint: string };
type Kind = "rotate" | "revoke" | "end-grace";
const KeyActionsContext = createContext<(kind: Kind, target: Target) => void>(() => {});

/**
 * One dialog of each kind for the whole key table (rotate, revoke, end grace): each row renders only
 * small buttons, so a page of keys stays cheap to render and to send.
 */
export function KeyActionsProvider({ clientId, children }: { clientId: string; children: ReactNode }) {
  const [open, setOpen] = useState<{ kind: Kind; target: Target } | null>(null);
  const [session, setSession] = useState(0);
  const [closing, setClosing] = useState<{ kind: Kind; target: Target } | null>(null);
  // Keep the last target while a dialog animates closed.
  const shown = open ?? closing;
  const close = () => {
    setClosing(open);
    setOpen(null);
    setSession((s) => s + 1);
  };
  return (
    <KeyActionsContext.Provider value={(kind, target) => setOpen({ kind, target })}>
      {children}
      {shown?.kind === "rotate" && (
        <Dialog open={open?.kind === "rotate"} onOpenChange={(next) => !next && close()}>
          <RotateKeyFlow key={session} clientId={clientId} {...shown.target} onDone={close} />
        </Dialog>
      )}
      {shown?.kind === "revoke" && (
        <ConfirmDialog
          open={open?.kind === "revoke"}
          onOpenChange={(next) => !next && close()}
          title={<>Revoke the key “{shown.target.name}”?</>}
          description="Services using it (or an old secret of it still in its grace) are refused from their next request. Its usage stays in the totals. This cannot be undone."
          fields={{ clientId, keyId: shown.target.keyId }}
          action={revokeApiKeyAction}
          confirmLabel="Revoke key"
          pendingLabel="Revoking…"
          confirmTestId="confirm-revoke"
          errorId="revoke-key-error"
        />
      )}
      {shown?.kind === "end-grace" && (
        <ConfirmDialog
          open={open?.kind === "end-grace"}
          onOpenChange={(next) => !next && close()}
          title={<>End the grace of the old secret of “{shown.target.name}”?</>}
          description="Services still using the old secret are refused within a second. The current secret keeps working."
          fields={{ clientId, keyId: shown.target.keyId }}
          action={endKeyGraceAction}
          confirmLabel="End grace now"
          pendingLabel="Ending…"
          confirmTestId="confirm-end-grace"
          errorId="end-grace-error"
        />
      )}
    </KeyActionsContext.Provider>
  );
}

/** "Rotate" and "Revoke" on a usable key's row. */
export function KeyRowButtons(target: Target) {
  const open = useContext(KeyActionsContext);
  return (
    <span className="inline-flex gap-2">
      <Button variant="outline" size="sm" aria-label={`Rotate key ${target.name}`} data-testid="rotate-key" onClick={() => open("rotate", target)}>
        Rotate
      </Button>
      <Button variant="outline" size="sm" aria-label={`Revoke key ${target.name}`} data-testid="revoke-key" onClick={() => open("revoke", target)}>
        Revoke
      </Button>
    </span>
  );
}

/** "End grace now" next to an old secret still in its grace. */
export function EndGraceButton(target: Target) {
  const open = useContext(KeyActionsContext);
  return (
    <Button
      variant="link"
      size="sm"
      className="h-auto p-0 text-xs underline underline-offset-2"
      aria-label={`End the grace of the old secret of key ${target.name} now`}
      data-testid="end-grace"
      onClick={() => open("end-grace", target)}
    >
      End grace now
    </Button>
  );
}
