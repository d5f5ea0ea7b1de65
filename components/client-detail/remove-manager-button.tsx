"use client";

import { useState, useTransition } from "react";
import { removeManagerAction } from "@/app/(console)/clients/[id]/manager-actions";
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
  userId: string;
  name: string | null;
  email: string;
}

export function RemoveManagerButton({ clientId, clientName, userId, name, email }: Props) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const who = name ?? email;

  function remove(formData: FormData) {
    setError(null);
    startTransition(async () => {
      const result = await removeManagerAction(formData);
      if (result.ok) setOpen(false);
      else setError(result.error);
    });
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
        <Button variant="ghost" size="sm" className="text-destructive hover:text-destructive" data-testid="remove-manager">
          Remove<span className="sr-only"> {who}</span>
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-md">
        <form action={remove} className="grid gap-4">
          <input type="hidden" name="clientId" value={clientId} />
          <input type="hidden" name="userId" value={userId} />
          <DialogHeader>
            <DialogTitle>Remove manager?</DialogTitle>
            <DialogDescription>
              <span className="font-medium break-all text-foreground">{name ? `${name} (${email})` : email}</span> will no
              longer manage <span className="font-medium break-all text-foreground">{clientName}</span>: they lose access to
              its API keys and usage (unless they are an administrator). Keys they created keep working.
            </DialogDescription>
          </DialogHeader>
          <FieldError id={`remove-manager-error-${userId}`} errors={error ? [error] : null} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" variant="destructive" disabled={pending} data-testid="confirm-remove-manager">
              {pending ? "Removing…" : "Remove"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
