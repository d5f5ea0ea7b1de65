"use client";

import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { Check, Loader2, Plus, Search } from "lucide-react";
import {
  addManagerAction,
  searchUsersAction,
  type AddManagerState,
} from "@/app/(console)/clients/[id]/manager-actions";
import type { UserMatch } from "@/lib/clients/managers";
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
import { cn } from "@/lib/utils";

const DEBOUNCE_MS = 200;

interface Props {
  clientId: string;
  clientName: string;
}

/** "+ Add Manager": search people by name or e-mail as you type, pick one, add. Admins only (the server re-checks). */
export function AddManagerDialog({ clientId, clientName }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        <Button size="sm" data-testid="add-manager">
          <Plus aria-hidden /> Add Manager
        </Button>
      </DialogTrigger>
      <DialogContent className="sm:max-w-lg">
        {/* Content unmounts when closed, so every opening starts with an empty search and no errors. */}
        <AddManagerForm clientId={clientId} clientName={clientName} onClose={() => setOpen(false)} />
      </DialogContent>
    </Dialog>
  );
}

interface Results {
  q: string;
  matches: UserMatch[];
  failed?: boolean;
}

function AddManagerForm({ clientId, clientName, onClose }: Props & { onClose: () => void }) {
  const ids = useId();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Results | null>(null);
  const [searching, setSearching] = useState(false);
  const [activeIndex, setActiveIndex] = useState(-1);
  const [selected, setSelected] = useState<UserMatch | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  /** Numbers each search; a response is shown only if no newer search was started meanwhile. */
  const latest = useRef(0);

  const [state, formAction, pending] = useFormAction<AddManagerState>(
    async (prev, formData) =>
      formData.get("userId") ? addManagerAction(prev, formData) : { ok: false, errors: { user: ["Choose a person from the list."] }, values: {} },
    { onDone: onClose },
  );

  useEffect(() => () => clearTimeout(timer.current), []);

  const matches = results?.matches ?? [];
  const optionId = (m: UserMatch) => `${ids}-option-${m.id}`;
  const activeMatch = activeIndex >= 0 ? matches[activeIndex] : undefined;
  const activeId = activeMatch ? optionId(activeMatch) : undefined;

  useEffect(() => {
    if (activeId) document.getElementById(activeId)?.scrollIntoView({ block: "nearest" });
  }, [activeId]);

  function onQueryChange(value: string) {
    setQuery(value);
    setSelected(null);
    clearTimeout(timer.current);
    const text = value.trim();
    const run = ++latest.current;
    if (!text) {
      setResults(null);
      setSearching(false);
      setActiveIndex(-1);
      return;
    }
    setSearching(true);
    timer.current = setTimeout(async () => {
      let next: Results;
      try {
        next = { q: text, matches: await searchUsersAction(clientId, text) };
      } catch {
        next = { q: text, matches: [], failed: true };
      }
      if (run !== latest.current) return;
      setResults(next);
      setActiveIndex(-1);
      setSearching(false);
    }, DEBOUNCE_MS);
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    const n = matches.length;
    if (e.key === "ArrowDown" && n > 0) {
      e.preventDefault();
      setActiveIndex((i) => (i + 1) % n);
    } else if (e.key === "ArrowUp" && n > 0) {
      e.preventDefault();
      setActiveIndex((i) => (i <= 0 ? n - 1 : i - 1));
    } else if (e.key === "Enter" && activeMatch && activeMatch.id !== selected?.id) {
      // Enter picks the highlighted person; a second Enter submits the form.
      e.preventDefault();
      setSelected(activeMatch);
    }
  }

  const userErrors = state.errors?.user;
  const listVisible = Boolean(results && !results.failed && matches.length > 0);
  const status = searching
    ? "Searching…"
    : results?.failed
      ? "The search failed. Please try again."
      : results && matches.length === 0
        ? `No users match “${results.q}”.`
        : results
          ? `${matches.length} ${matches.length === 1 ? "person" : "people"} found.`
          : "";

  return (
    <form action={formAction} noValidate className="grid gap-4">
      <input type="hidden" name="clientId" value={clientId} />
      <input type="hidden" name="userId" value={selected?.id ?? ""} />
      <DialogHeader>
        <DialogTitle>Add manager</DialogTitle>
        <DialogDescription>
          Managers of <span className="font-medium break-all text-foreground">{clientName}</span> can create API keys and
          view its usage.
        </DialogDescription>
      </DialogHeader>

      <div className="grid gap-2">
        <Label htmlFor={`${ids}-search`}>Search by name or e-mail</Label>
        <div className="relative">
          <Search
            className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground"
            aria-hidden
          />
          <Input
            id={`${ids}-search`}
            type="text"
            role="combobox"
            aria-autocomplete="list"
            aria-expanded={listVisible}
            aria-controls={`${ids}-listbox`}
            aria-activedescendant={activeId}
            aria-invalid={Boolean(userErrors)}
            aria-describedby={userErrors ? `${ids}-help ${ids}-error` : `${ids}-help`}
            autoComplete="off"
            autoFocus
            maxLength={200}
            placeholder="ada@example.com"
            className="pr-8 pl-8"
            value={query}
            onChange={(e) => onQueryChange(e.target.value)}
            onKeyDown={onKeyDown}
            data-testid="manager-search"
          />
          {searching && (
            <Loader2
              className="absolute top-1/2 right-2.5 size-4 -translate-y-1/2 animate-spin text-muted-foreground"
              aria-hidden
            />
          )}
        </div>
        <p id={`${ids}-help`} className="text-xs text-muted-foreground">
          People appear here after their first sign-in to Lumen. Use ↑ and ↓ to move through the matches and Enter to
          choose.
        </p>
        <FieldError id={`${ids}-error`} errors={userErrors} />

        <ul
          id={`${ids}-listbox`}
          role="listbox"
          aria-label="Matching people"
          hidden={!listVisible}
          className="max-h-72 overflow-y-auto rounded-md border p-1"
          data-testid="manager-options"
        >
          {matches.map((m, i) => {
            const isSelected = selected?.id === m.id;
            return (
              <li
                key={m.id}
                id={optionId(m)}
                role="option"
                aria-selected={isSelected}
                // Keep focus in the search field: it owns the keyboard (aria-activedescendant).
                onMouseDown={(e) => e.preventDefault()}
                onMouseMove={() => setActiveIndex(i)}
                onClick={() => {
                  setActiveIndex(i);
                  setSelected(m);
                }}
                className={cn(
                  "flex cursor-pointer items-center gap-2 rounded-sm px-2 py-1.5 text-sm",
                  i === activeIndex && "bg-accent text-accent-foreground",
                )}
                data-testid="manager-option"
              >
                <Check className={cn("size-4 shrink-0", isSelected ? "opacity-100" : "opacity-0")} aria-hidden />
                <span className="min-w-0">
                  <span className="block truncate font-medium">{m.name ?? m.email}</span>
                  {m.name && <span className="block truncate text-xs text-muted-foreground">{m.email}</span>}
                </span>
              </li>
            );
          })}
        </ul>
        <p
          role="status"
          className={cn("text-sm text-muted-foreground", (listVisible || searching || !status) && "sr-only")}
          data-testid="manager-search-status"
        >
          {status}
        </p>
      </div>

      {selected && (
        <p className="rounded-md bg-muted px-3 py-2 text-sm" data-testid="manager-selected">
          Add <span className="font-medium break-all">{selected.name ? `${selected.name} (${selected.email})` : selected.email}</span>{" "}
          as a manager of <span className="font-medium break-all">{clientName}</span>.
        </p>
      )}
      <FieldError id={`${ids}-form-error`} errors={state.errors?.form} />
      <DialogFooter>
        <Button type="button" variant="outline" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" disabled={pending} data-testid="confirm-add-manager">
          {pending ? "Adding…" : "Add Manager"}
        </Button>
      </DialogFooter>
    </form>
  );
}
