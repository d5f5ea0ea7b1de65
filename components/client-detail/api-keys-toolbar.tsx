"use client";

import { useEffect, useOptimistic, useRef, useState, useTransition } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Loader2, Search } from "lucide-react";
import { Input } from "@/components/ui/input";

/**
 * Name search (`?keys_q=`, debounced) and the "Show revoked and expired keys" switch (`?revoked=1`) of the
 * API keys table. Both live in the URL, next to whatever other sections put there, which is left untouched.
 */
export function ApiKeysToolbar({
  initialQuery,
  showInactive,
  inactiveCount,
}: {
  initialQuery: string;
  showInactive: boolean;
  inactiveCount: number;
}) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [value, setValue] = useState(initialQuery);
  const [pending, startTransition] = useTransition();
  const [revokedShown, setRevokedShown] = useOptimistic(showInactive);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => setValue(initialQuery), [initialQuery]);
  useEffect(() => () => clearTimeout(timer.current), []);

  function navigate(change: { keys_q?: string; revoked?: boolean }) {
    const sp = new URLSearchParams(searchParams.toString());
    if (change.keys_q !== undefined) {
      const q = change.keys_q.trim();
      if (q) sp.set("keys_q", q);
      else sp.delete("keys_q");
    }
    if (change.revoked !== undefined) {
      if (change.revoked) sp.set("revoked", "1");
      else sp.delete("revoked");
    }
    const qs = sp.toString();
    startTransition(() => {
      if (change.revoked !== undefined) setRevokedShown(change.revoked);
      router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
    });
  }

  return (
    <div className="flex flex-wrap items-center gap-x-6 gap-y-3">
      <form
        role="search"
        aria-label="API keys"
        onSubmit={(e) => {
          e.preventDefault();
          clearTimeout(timer.current);
          navigate({ keys_q: value });
        }}
        className="relative w-full sm:w-72"
      >
        <label htmlFor="key-search" className="sr-only">
          Search API keys by name
        </label>
        <Search
          className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground"
          aria-hidden
        />
        <Input
          id="key-search"
          name="keys_q"
          type="search"
          placeholder="Search keys by name…"
          autoComplete="off"
          maxLength={100}
          className="pl-8"
          value={value}
          data-testid="key-search"
          onChange={(e) => {
            const q = e.target.value;
            setValue(q);
            clearTimeout(timer.current);
            timer.current = setTimeout(() => navigate({ keys_q: q }), 250);
          }}
        />
        {pending && (
          <Loader2
            className="absolute top-1/2 right-2.5 size-4 -translate-y-1/2 animate-spin text-muted-foreground"
            aria-label="Loading"
          />
        )}
      </form>
      <label className="inline-flex cursor-pointer items-center gap-2 text-sm select-none">
        <input
          type="checkbox"
          className="size-4 accent-primary"
          checked={revokedShown}
          onChange={(e) => navigate({ revoked: e.target.checked })}
          data-testid="show-revoked"
        />
        Show revoked and expired keys{inactiveCount > 0 ? ` (${inactiveCount.toLocaleString("en-US")})` : ""}
      </label>
    </div>
  );
}
