"use client";

import { useActionState, useState } from "react";
import { revokeApiKeyAction, type RevokeApiKeyResult } from "@/app/(console)/clients/[id]/key-actions";
import { Button } from "@/components/ui/button";
import {
  Dialog,
  DialogClose,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
  DialogTrigger,
} from "@/components/ui/dialog";
import { FieldError } from "@/components/ui/field-error";

/** "Revoke" on a key row, behind a confirmation naming the key. The row leaves the table on success. */
export function RevokeKeyButton({ clientId, keyId, name }: { clientId: string; keyId: string; name: string }) {
  const [open, setOpen] = useState(false);
  const [state, action, pending] = useActionState<RevokeApiKeyResult | null, FormData>(async (_prev, formData) => {
    const result = await revokeApiKeyAction(formData);
    if (result.ok) setOpen(false);
    return result;
  }, null);
  const error = state && !state.ok ? [state.error] : undefined;

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button variant="outline" size="sm" aria-label={`Revoke key ${name}`} data-testid="revoke-key">
          Revoke
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-md">
        <form action={action} className="grid gap-4">
          <DialogHeader>
            <DialogTitle className="leading-snug break-words">Revoke the key “{name}”?</DialogTitle>
            <DialogDescription>
              Services using it are refused from their next request. Its usage stays in the totals. This cannot be
              undone.
            </DialogDescription>
          </DialogHeader>
          <input type="hidden" name="clientId" value={clientId} />
          <input type="hidden" name="keyId" value={keyId} />
          <FieldError id={`revoke-${keyId}-error`} errors={error} />
          <DialogFooter>
            <DialogClose asChild>
              <Button type="button" variant="outline">
                Cancel
              </Button>
            </DialogClose>
            <Button type="submit" variant="destructive" disabled={pending} data-testid="confirm-revoke">
              {pending ? "Revoking…" : "Revoke key"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
