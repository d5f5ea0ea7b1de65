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
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { FieldError } from "@/components/ui/field-error";
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
          <div className="grid gap-2">
            <Label htmlFor="client-name">Name</Label>
            <Input
              id="client-name"
              name="name"
              placeholder="my-service-app"
              autoComplete="off"
              autoFocus
              maxLength={nameInputMaxLength(CLIENT_NAME_MAX)}
              defaultValue={state.values?.name}
              key={state.values?.name ?? ""}
              aria-invalid={Boolean(nameErrors)}
              aria-describedby={nameErrors ? "client-name-error client-name-help" : "client-name-help"}
            />
            <p id="client-name-help" className="text-xs text-muted-foreground">
              Up to {CLIENT_NAME_MAX} letters, digits, “-”, “_” or “.”, starting with a letter or digit.
            </p>
            <FieldError id="client-name-error" errors={nameErrors} />
          </div>
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
