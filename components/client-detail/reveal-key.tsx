"use client";

import { useEffect, useRef, useState, type ReactNode } from "react";
import { Check, Copy, TriangleAlert } from "lucide-react";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";

type CopyState = "idle" | "copied" | "manual";

/**
 * A secret shown once (a new key, or a rotated key's new secret), with a copy button and the warning
 * that it can never be shown again. The secret lives only in the dialog's state.
 */
export function RevealKey({
  title,
  description,
  plaintext,
  children,
  onDone,
}: {
  title: string;
  description: ReactNode;
  plaintext: string;
  /** More facts under the key (expiry, the old secret's grace). */
  children?: ReactNode;
  onDone: () => void;
}) {
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
        <DialogTitle>{title}</DialogTitle>
        <DialogDescription>{description}</DialogDescription>
      </DialogHeader>
      <Alert variant="warning" role="note">
        <TriangleAlert aria-hidden />
        <AlertTitle>It will never be shown again</AlertTitle>
        <AlertDescription>Lumen keeps only a fingerprint of the key. If you lose it, rotate the key or create a new one.</AlertDescription>
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
      {children}
      <DialogFooter>
        <Button type="button" onClick={onDone} data-testid="key-done">
          Done
        </Button>
      </DialogFooter>
    </div>
  );
}
