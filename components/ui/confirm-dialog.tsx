"use client";

import { useState, type ReactNode } from "react";
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
import { useFormAction } from "@/components/forms/use-form-action";
import { allMessages, type ActionState } from "@/lib/forms/action-state";

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
  action: (prev: ActionState, formData: FormData) => Promise<ActionState>;
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
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      {props.trigger && <DialogTrigger asChild>{props.trigger}</DialogTrigger>}
      <DialogContent className="sm:max-w-md">
        {/* Content unmounts when closed, so every opening starts without the last error. */}
        <ConfirmForm {...props} close={() => setOpen(false)} />
      </DialogContent>
    </Dialog>
  );
}

function ConfirmForm(props: Props & { close: () => void }) {
  const [state, formAction, pending] = useFormAction(props.action, { onDone: props.close });
  return (
    <form action={formAction} className="grid gap-4">
      {Object.entries(props.fields).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <DialogHeader>
        <DialogTitle className="leading-snug break-words">{props.title}</DialogTitle>
        <DialogDescription>{props.description}</DialogDescription>
      </DialogHeader>
      <FieldError id={props.errorId} errors={allMessages(state)} />
      <DialogFooter>
        <Button type="button" variant="outline" onClick={props.close}>
          Cancel
        </Button>
        <Button type="submit" variant="destructive" disabled={pending} data-testid={props.confirmTestId}>
          {pending ? props.pendingLabel : props.confirmLabel}
        </Button>
      </DialogFooter>
    </form>
  );
}
