"use client";

import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { Check, Copy } from "lucide-react";
import { Button } from "@/components/ui/button";
import { cn } from "@/lib/utils";

export interface Snippet {
  id: string;
  label: string;
  language: string;
  code: string;
}

/** Tabs (WAI-ARIA pattern: arrow keys, Home, End move between tabs) with one code snippet each. */
export function ConnectTabs({ snippets }: { snippets: Snippet[] }) {
  const [selected, setSelected] = useState(0);
  const tabs = useRef<Array<HTMLButtonElement | null>>([]);
  const code = useRef<HTMLElement>(null);
  const baseId = useId();
  const current = snippets[selected] ?? snippets[0];
  if (!current) return null;

  const select = (index: number) => {
    const next = (index + snippets.length) % snippets.length;
    setSelected(next);
    tabs.current[next]?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const moves: Record<string, number> = {
      ArrowRight: selected + 1,
      ArrowLeft: selected - 1,
      Home: 0,
      End: snippets.length - 1,
    };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    select(target);
  };

  return (
    <div className="grid gap-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div role="tablist" aria-label="Language" className="inline-flex rounded-md border bg-muted p-0.5">
          {snippets.map((s, i) => (
            <button
              key={s.id}
              ref={(el) => {
                tabs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`${baseId}-tab-${s.id}`}
              aria-selected={i === selected}
              aria-controls={`${baseId}-panel-${s.id}`}
              tabIndex={i === selected ? 0 : -1}
              onClick={() => setSelected(i)}
              onKeyDown={onKeyDown}
              data-testid={`connect-tab-${s.id}`}
              className={cn(
                "rounded px-3 py-1 text-sm font-medium transition-colors outline-hidden focus-visible:ring-2 focus-visible:ring-ring",
                i === selected ? "bg-background text-foreground shadow-xs" : "text-muted-foreground hover:text-foreground",
              )}
            >
              {s.label}
            </button>
          ))}
        </div>
        <CopyButton text={current.code} label={`Copy the ${current.label} example`} fallback={() => selectContents(code.current)} />
      </div>
      <div
        role="tabpanel"
        id={`${baseId}-panel-${current.id}`}
        aria-labelledby={`${baseId}-tab-${current.id}`}
        tabIndex={0}
        className="rounded-md outline-hidden focus-visible:ring-2 focus-visible:ring-ring"
      >
        <pre className="overflow-x-auto rounded-md border bg-muted/50 p-4 text-sm leading-relaxed">
          <code ref={code} data-language={current.language} data-testid="connect-code">
            {current.code}
          </code>
        </pre>
      </div>
    </div>
  );
}

/** Selects an element's text, so Ctrl/⌘+C copies it where the clipboard API is unavailable (plain http). */
function selectContents(element: HTMLElement | null) {
  const selection = window.getSelection();
  if (!element || !selection) return;
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
}

function CopyButton({ text, label, fallback }: { text: string; label: string; fallback: () => void }) {
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);

  useEffect(() => {
    if (copied !== "yes") return;
    const timer = setTimeout(() => setCopied(null), 2000);
    return () => clearTimeout(timer);
  }, [copied]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("yes");
    } catch {
      fallback();
      setCopied("failed");
    }
  };

  return (
    <div className="flex items-center gap-2">
      <span role="status" aria-live="polite" className="text-xs text-muted-foreground">
        {copied === "yes" ? "Copied" : copied === "failed" ? "Copying is blocked here: the text is selected, press Ctrl+C (⌘C on a Mac)" : ""}
      </span>
      <Button type="button" variant="outline" size="sm" onClick={copy} aria-label={label} data-testid="connect-copy">
        {copied === "yes" ? <Check aria-hidden /> : <Copy aria-hidden />}
        Copy
      </Button>
    </div>
  );
}
