"use client";

import { useState, useTransition, type ReactNode } from "react";
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

export type ConfirmResult = { ok: true } | { ok: false; error: string };

interface Props {
  /** The button that opens the dialog (rendered through DialogTrigger asChild); omit when controlled. */
  trigger?: ReactNode;
  /** Controlled mode: one dialog shared by many rows. */
  open?: boolean;
  onOpenChange?: (open: boolean) => void;
  title: ReactNode;
  description: ReactNode;
  /** Hidden form fields sent to the action. */
  fields: Record<string, string>;
  action: (formData: FormData) => Promise<ConfirmResult>;
  confirmLabel: string;
  pendingLabel: string;
  confirmTestId?: string;
  errorId: string;
}

/** A destructive action behind a confirmation: the dialog closes on success and shows the error otherwise. */
export function ConfirmDialog(props: Props) {
  const [ownOpen, setOwnOpen] = useState(false);
  const open = props.open ?? ownOpen;
  const setOpen = (next: boolean) => (props.onOpenChange ? props.onOpenChange(next) : setOwnOpen(next));
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  function submit(formData: FormData) {
    setError(null);
    startTransition(async () => {
      const result = await props.action(formData);
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
      {props.trigger && <DialogTrigger asChild>{props.trigger}</DialogTrigger>}
      <DialogContent className="sm:max-w-md">
        <form action={submit} className="grid gap-4">
          {Object.entries(props.fields).map(([name, value]) => (
            <input key={name} type="hidden" name={name} value={value} />
          ))}
          <DialogHeader>
            <DialogTitle className="leading-snug break-words">{props.title}</DialogTitle>
            <DialogDescription>{props.description}</DialogDescription>
          </DialogHeader>
          <FieldError id={props.errorId} errors={error ? [error] : undefined} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" variant="destructive" disabled={pending} data-testid={props.confirmTestId}>
              {pending ? props.pendingLabel : props.confirmLabel}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
