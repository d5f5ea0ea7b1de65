"use client";

import { useTransition } from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";

/**
 * Changes a few query parameters of the current page (null removes one) and leaves the others — other
 * sections' state — untouched. The server renders the new view; `pending` is true meanwhile.
 */
export function useUrlState() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [pending, startTransition] = useTransition();

  /** `optimistic` runs inside the transition: the place for useOptimistic updates. */
  function navigate(changes: Record<string, string | null>, optimistic?: () => void) {
    const sp = new URLSearchParams(searchParams.toString());
    for (const [name, value] of Object.entries(changes)) {
      if (value === null || value === "") sp.delete(name);
      else sp.set(name, value);
    }
    const qs = sp.toString();
    startTransition(() => {
      optimistic?.();
      router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
    });
  }

  return { navigate, pending };
}
