"use client";

import { useState } from "react";
import { Plus } from "lucide-react";
import { createApiKeyAction } from "@/app/(console)/clients/[id]/key-actions";
import { LocalDate } from "@/components/clients/local-date";
import { Button } from "@/components/ui/button";
import { ChoiceGroup } from "@/components/ui/choice-group";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { FieldError } from "@/components/ui/field-error";
import { TextField } from "@/components/ui/text-field";
import {
  choiceAllowed,
  DAY_MS,
  defaultExpiryChoice,
  EXPIRY_CHOICES,
  formatDays,
  LIFETIME_LIMIT_DAYS,
  localDay,
  type ExpiryChoice,
} from "@/lib/keys/expiry";
import { useFormAction } from "@/components/forms/use-form-action";
import type { FieldErrors } from "@/lib/forms/action-state";
import { KEY_NAME_MAX, nameInputMaxLength } from "@/lib/name-limits";
import { RevealKey } from "./reveal-key";

/**
 * "+ New API Key": asks a name and an expiry, then shows the new key once. The key lives only in this
 * component's action state; closing the dialog remounts the flow (new `key`), which drops it.
 * `maxLifetimeDays`: config `keys.max_lifetime_days` (the server enforces it too).
 */
export function NewApiKeyDialog({ clientId, maxLifetimeDays }: { clientId: string; maxLifetimeDays: number | null }) {
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
        maxLifetimeDays={maxLifetimeDays}
        onDone={() => {
          setOpen(false);
          setSession((s) => s + 1);
        }}
      />
    </Dialog>
  );
}

function NewKeyFlow({ clientId, maxLifetimeDays, onDone }: { clientId: string; maxLifetimeDays: number | null; onDone: () => void }) {
  const [state, action, pending] = useFormAction(createApiKeyAction);
  const created = state.data;
  return (
    <DialogContent
      className="sm:max-w-lg"
      // Once the key is on screen, a stray click outside must not throw it away; Esc and the buttons still close.
      onInteractOutside={created ? (e) => e.preventDefault() : undefined}
    >
      {created ? (
        <RevealKey
          title="Copy your key now"
          description={<>The key “{created.name}” was created. Store it somewhere safe, such as your service’s secret store.</>}
          plaintext={created.plaintext}
          onDone={onDone}
        >
          <p className="text-sm text-muted-foreground" data-testid="new-key-expiry">
            {created.expiresAt ? (
              <>
                It expires on <LocalDate iso={created.expiresAt} withTime />.
              </>
            ) : (
              "It never expires; revoke it when it is no longer needed."
            )}
          </p>
        </RevealKey>
      ) : (
        <form action={action} noValidate className="grid gap-5">
          <DialogHeader>
            <DialogTitle>New API key</DialogTitle>
            <DialogDescription>A key lets a service call Lumen as this client. Name it after where it will be used.</DialogDescription>
          </DialogHeader>
          <input type="hidden" name="clientId" value={clientId} />
          <TextField
            id="key-name"
            label="Name"
            help={<>For example production, staging or ci-runner. Up to {KEY_NAME_MAX} characters.</>}
            errors={state.errors?.name}
            name="name"
            placeholder="production"
            autoComplete="off"
            autoFocus
            maxLength={nameInputMaxLength(KEY_NAME_MAX)}
            defaultValue={state.values?.name}
            key={state.values?.name ?? ""}
            data-testid="key-name"
          />
          <ExpiryField
            // A returned state restores what was chosen; an unchanged state keeps the field as it is.
            key={state.values ? `${state.values.expiry}/${state.values.expiresOn}` : "fresh"}
            maxDays={maxLifetimeDays}
            initialChoice={state.values?.expiry}
            initialDate={state.values?.expiresOn}
            errors={state.errors}
          />
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

const CHOICE_LABELS: Record<ExpiryChoice, string> = {
  never: "Never",
  "30": "30 days",
  "90": "90 days",
  "365": "365 days",
  date: "On a date",
};

/** The browser's UTC offset on the night the chosen day ends (it differs from today's across a DST change). */
function offsetAfter(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return String(new Date().getTimezoneOffset());
  return String(new Date(y, m - 1, d + 1).getTimezoneOffset());
}

function ExpiryField({
  maxDays,
  initialChoice,
  initialDate,
  errors,
}: {
  maxDays: number | null;
  initialChoice?: string;
  initialDate?: string;
  errors?: FieldErrors<"expiry" | "expiresOn">;
}) {
  const now = new Date();
  const offset = now.getTimezoneOffset();
  const today = localDay(now, offset);
  const lastDay = localDay(+now + (maxDays ?? LIFETIME_LIMIT_DAYS) * DAY_MS, offset);
  const fallback = defaultExpiryChoice(maxDays);
  const [choice, setChoice] = useState<string>(
    initialChoice && (EXPIRY_CHOICES as readonly string[]).includes(initialChoice) ? initialChoice : fallback,
  );
  const [date, setDate] = useState(initialDate || (fallback === "date" ? lastDay : ""));
  const choices = EXPIRY_CHOICES.map((c) => {
    const allowed = choiceAllowed(c, maxDays);
    return {
      value: c,
      label: CHOICE_LABELS[c],
      disabled: !allowed,
      note: allowed || maxDays === null ? undefined : `not allowed: keys live at most ${formatDays(maxDays)} here`,
    };
  });
  const described = ["key-expiry-help", errors?.expiry && "key-expiry-error"].filter(Boolean).join(" ");
  return (
    <div className="grid gap-2">
      <ChoiceGroup
        name="expiry"
        legend="Expires"
        choices={choices}
        value={choice}
        onValueChange={setChoice}
        describedBy={described}
        invalid={Boolean(errors?.expiry)}
        testId="key-expiry"
      />
      {choice === "date" && (
        <TextField
          id="key-expires-on"
          label="Last day the key works"
          errors={errors?.expiresOn}
          className="pt-1"
          inputClassName="w-48"
          name="expiresOn"
          type="date"
          min={today}
          max={lastDay}
          value={date}
          onChange={(e) => setDate(e.target.value)}
          data-testid="key-expires-on"
        />
      )}
      <input type="hidden" name="tzOffset" value={choice === "date" ? offsetAfter(date) : String(offset)} />
      <p id="key-expiry-help" className="text-xs text-muted-foreground">
        {maxDays === null
          ? "An expired key is refused with a message giving the date. Rotating a key keeps its expiry."
          : `Keys may live at most ${formatDays(maxDays)} here (config.yaml keys.max_lifetime_days).`}
      </p>
      <FieldError id="key-expiry-error" errors={errors?.expiry} />
    </div>
  );
}
