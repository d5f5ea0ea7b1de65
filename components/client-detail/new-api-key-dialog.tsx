"use client";

import { useActionState, useEffect, useRef, useState } from "react";
import { Check, Copy, Plus, TriangleAlert } from "lucide-react";
import { createApiKeyAction, type CreateApiKeyState } from "@/app/(console)/clients/[id]/key-actions";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
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
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

/**
 * "+ New API Key": asks a name, then shows the new key once. The key lives only in this component's
 * action state; closing the dialog remounts the flow (new `key`), which drops it.
 */
export function NewApiKeyDialog({ clientId }: { clientId: string }) {
  const [open, setOpen] = useState(false);
  const [session, setSession] = useState(0);
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) setSession((s) => s + 1);
      }}
    >
      <DialogTrigger asChild>
        <Button data-testid="new-api-key">
          <Plus aria-hidden /> New API Key
        </Button>
      </DialogTrigger>
      <NewKeyFlow
        key={session}
        clientId={clientId}
        onDone={() => {
          setOpen(false);
          setSession((s) => s + 1);
        }}
      />
    </Dialog>
  );
}

function NewKeyFlow({ clientId, onDone }: { clientId: string; onDone: () => void }) {
  const [state, action, pending] = useActionState<CreateApiKeyState, FormData>(createApiKeyAction, {});
  const created = state.created;
  return (
    <DialogContent
      className="sm:max-w-lg"
      // Once the key is on screen, a stray click outside must not throw it away; Esc and the buttons still close.
      onInteractOutside={created ? (e) => e.preventDefault() : undefined}
    >
      {created ? (
        <RevealKey name={created.name} plaintext={created.plaintext} onDone={onDone} />
      ) : (
        <form action={action} noValidate className="grid gap-4">
          <DialogHeader>
            <DialogTitle>New API key</DialogTitle>
            <DialogDescription>
              A key lets a service call Lumen as this client. Name it after where it will be used.
            </DialogDescription>
          </DialogHeader>
          <input type="hidden" name="clientId" value={clientId} />
          <div className="grid gap-2">
            <Label htmlFor="key-name">Name</Label>
            <Input
              id="key-name"
              name="name"
              placeholder="production"
              autoComplete="off"
              autoFocus
              maxLength={200}
              defaultValue={state.values?.name}
              key={state.values?.name ?? ""}
              aria-invalid={Boolean(state.errors?.name)}
              aria-describedby={state.errors?.name ? "key-name-error key-name-help" : "key-name-help"}
              data-testid="key-name"
            />
            <p id="key-name-help" className="text-xs text-muted-foreground">
              For example production, staging or ci-runner. Up to 64 characters.
            </p>
            <FieldError id="key-name-error" errors={state.errors?.name} />
          </div>
          <FieldError id="key-form-error" errors={state.errors?.form} />
          <DialogFooter>
            <Button type="button" variant="outline" onClick={onDone}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending} data-testid="create-key">
              {pending ? "Creating…" : "Create key"}
            </Button>
          </DialogFooter>
        </form>
      )}
    </DialogContent>
  );
}

type CopyState = "idle" | "copied" | "manual";

function RevealKey({ name, plaintext, onDone }: { name: string; plaintext: string; onDone: () => void }) {
  const [copy, setCopy] = useState<CopyState>("idle");
  const field = useRef<HTMLInputElement>(null);
  const copyButton = useRef<HTMLButtonElement>(null);

  useEffect(() => copyButton.current?.focus(), []);

  async function copyKey() {
    try {
      await navigator.clipboard.writeText(plaintext);
      setCopy("copied");
    } catch {
      // No clipboard access (plain http, permissions): select the text so Ctrl/⌘+C copies it.
      field.current?.focus();
      field.current?.select();
      setCopy("manual");
    }
  }

  return (
    <div className="grid gap-4">
      <DialogHeader>
        <DialogTitle>Copy your key now</DialogTitle>
        <DialogDescription>
          The key “{name}” was created. Store it somewhere safe, such as your service’s secret store.
        </DialogDescription>
      </DialogHeader>
      <Alert variant="warning" role="note">
        <TriangleAlert aria-hidden />
        <AlertTitle>It will never be shown again</AlertTitle>
        <AlertDescription>Lumen keeps only a fingerprint of the key. If you lose it, revoke it and create a new one.</AlertDescription>
      </Alert>
      <div className="grid gap-2">
        <Label htmlFor="new-key-value">API key</Label>
        <div className="flex gap-2">
          <Input
            ref={field}
            id="new-key-value"
            readOnly
            value={plaintext}
            spellCheck={false}
            autoComplete="off"
            className="font-mono text-xs md:text-xs"
            onFocus={(e) => e.currentTarget.select()}
            aria-describedby="new-key-copy-status"
            data-testid="new-key-plaintext"
          />
          <Button ref={copyButton} type="button" variant="outline" onClick={copyKey} data-testid="copy-key">
            {copy === "copied" ? <Check aria-hidden /> : <Copy aria-hidden />}
            {copy === "copied" ? "Copied" : "Copy"}
          </Button>
        </div>
        <p id="new-key-copy-status" role="status" aria-live="polite" className="min-h-4 text-xs text-muted-foreground">
          {copy === "copied" && "Copied to the clipboard."}
          {copy === "manual" && "Copying is blocked here: the key is selected, press Ctrl+C (⌘C on a Mac) to copy it."}
        </p>
      </div>
      <DialogFooter>
        <Button type="button" onClick={onDone} data-testid="key-done">
          Done
        </Button>
      </DialogFooter>
    </div>
  );
}
