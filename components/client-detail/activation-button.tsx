"use client";

import { useState, useTransition } from "react";
import { Power, PowerOff } from "lucide-react";
import { setActiveAction } from "@/app/(console)/clients/[id]/activation-actions";
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
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  function submit(formData: FormData) {
    setError(null);
    startTransition(async () => {
      const result = await setActiveAction(formData);
      if (result.ok) setOpen(false);
      else setError(result.error);
    });
  }

  const fields = (next: boolean) => (
    <>
      <input type="hidden" name="clientId" value={clientId} />
      <input type="hidden" name="active" value={String(next)} />
    </>
  );

  if (!active) {
    return (
      <form action={submit} className="flex items-center gap-2">
        {fields(true)}
        <FieldError id="activation-error" errors={error ? [error] : null} />
        <Button type="submit" variant="outline" disabled={pending} data-testid="activate-client">
          <Power aria-hidden /> {pending ? "Activating…" : "Activate"}
        </Button>
      </form>
    );
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (next) setError(null);
      }}
    >
      <DialogTrigger asChild>
        <Button
          variant="outline"
          className="border-destructive/50 text-destructive hover:bg-destructive/10 hover:text-destructive"
          data-testid="deactivate-client"
        >
          <PowerOff aria-hidden /> Deactivate
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-md">
        <form action={submit} className="grid gap-4">
          {fields(false)}
          <DialogHeader>
            <DialogTitle>
              Deactivate <span className="break-all">{clientName}</span>?
            </DialogTitle>
            <DialogDescription>
              All of this client&apos;s API keys stop working at once: the API refuses them until the client is
              activated again. Nothing is deleted — keys, managers, coin pool and usage history are kept.
            </DialogDescription>
          </DialogHeader>
          <FieldError id="deactivation-error" errors={error ? [error] : null} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" variant="destructive" disabled={pending} data-testid="confirm-deactivate">
              {pending ? "Deactivating…" : "Deactivate"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
