"use client";

import { useEffect, useRef, useState, useTransition } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Loader2, Search } from "lucide-react";
import { Input } from "@/components/ui/input";

/** Filters by name as you type (debounced); the query lives in `?q=` so the view is a deep link. */
export function ClientsSearch({ initial }: { initial: string }) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [value, setValue] = useState(initial);
  const [pending, startTransition] = useTransition();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => setValue(initial), [initial]);
  useEffect(() => () => clearTimeout(timer.current), []);

  function navigate(q: string) {
    const sp = new URLSearchParams(searchParams.toString());
    if (q.trim()) sp.set("q", q.trim());
    else sp.delete("q");
    sp.delete("page");
    const qs = sp.toString();
    startTransition(() => router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false }));
  }

  return (
    <form
      role="search"
      action="/clients"
      onSubmit={(e) => {
        e.preventDefault();
        clearTimeout(timer.current);
        navigate(value);
      }}
      className="relative w-full sm:w-72"
    >
      <label htmlFor="client-search" className="sr-only">
        Search clients by name
      </label>
      <Search className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden />
      <Input
        id="client-search"
        name="q"
        type="search"
        placeholder="Search by name…"
        autoComplete="off"
        maxLength={100}
        className="pl-8"
        value={value}
        onChange={(e) => {
          const q = e.target.value;
          setValue(q);
          clearTimeout(timer.current);
          timer.current = setTimeout(() => navigate(q), 250);
        }}
      />
      {pending && (
        <Loader2 className="absolute top-1/2 right-2.5 size-4 -translate-y-1/2 animate-spin text-muted-foreground" aria-label="Searching" />
      )}
    </form>
  );
}
