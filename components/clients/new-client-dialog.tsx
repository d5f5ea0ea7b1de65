"use client";

import { useState } from "react";
import { Plus } from "lucide-react";
import { createClientAction } from "@/app/(console)/clients/actions";
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
import { TextField } from "@/components/ui/text-field";
import { useFormAction } from "@/components/forms/use-form-action";
import { CLIENT_NAME_MAX, nameInputMaxLength } from "@/lib/name-limits";

export function NewClientDialog({ label = "New Client" }: { label?: string }) {
  const [open, setOpen] = useState(false);
  const [state, action, pending] = useFormAction(createClientAction);
  const nameErrors = state.errors?.name;
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button data-testid="new-client">
          <Plus aria-hidden /> {label}
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-md">
        <form action={action} noValidate className="grid gap-4">
          <DialogHeader>
            <DialogTitle>New client</DialogTitle>
            <DialogDescription>
              A named identity for a service or automated tool, with its own API keys, coin pool and usage.
            </DialogDescription>
          </DialogHeader>
          <TextField
            id="client-name"
            label="Name"
            help={<>Up to {CLIENT_NAME_MAX} letters, digits, “-”, “_” or “.”, starting with a letter or digit.</>}
            errors={nameErrors}
            name="name"
            placeholder="my-service-app"
            autoComplete="off"
            autoFocus
            maxLength={nameInputMaxLength(CLIENT_NAME_MAX)}
            defaultValue={state.values?.name}
            key={state.values?.name ?? ""}
          />
          <FieldError id="client-form-error" errors={state.errors?.form} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending}>
              {pending ? "Creating…" : "Create"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
