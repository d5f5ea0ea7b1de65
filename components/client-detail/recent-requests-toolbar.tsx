"use client";

import { useOptimistic } from "react";
import { Loader2 } from "lucide-react";
import type { KeyOption } from "@/lib/clients/recent-requests";
import { NativeSelect } from "@/components/ui/native-select";
import { useUrlState } from "./use-url-state";

/** Key filter (`?requests_key=`) and "Errors only" (`?requests_errors=1`); either change starts at the newest page. */
export function RecentRequestsToolbar({ keys, keyId, errorsOnly }: { keys: KeyOption[]; keyId: string | null; errorsOnly: boolean }) {
  const { navigate, pending } = useUrlState();
  const [shown, setShown] = useOptimistic({ keyId, errorsOnly });
  const go = (change: { keyId?: string | null; errorsOnly?: boolean }) => {
    const next = { ...shown, ...change };
    navigate(
      { requests_key: next.keyId, requests_errors: next.errorsOnly ? "1" : null, requests_before: null, requests_after: null },
      () => setShown(next),
    );
  };
  const selectedMissing = keyId !== null && !keys.some((k) => k.id === keyId);
  return (
    <div className="flex flex-wrap items-center gap-x-6 gap-y-3" data-testid="requests-toolbar">
      <div className="flex items-center gap-2">
        <label htmlFor="requests-key" className="text-sm font-medium">
          Key
        </label>
        <NativeSelect
          id="requests-key"
          className="max-w-64"
          value={shown.keyId ?? ""}
          onChange={(e) => go({ keyId: e.target.value || null })}
          data-testid="requests-key"
        >
          <option value="">All keys</option>
          {selectedMissing && <option value={keyId}>The selected key</option>}
          {keys.map((k) => (
            <option key={k.id} value={k.id}>
              {k.name}
              {k.inactive ? " (revoked or expired)" : ""}
            </option>
          ))}
        </NativeSelect>
      </div>
      <label className="inline-flex cursor-pointer items-center gap-2 text-sm select-none">
        <input
          type="checkbox"
          className="size-4 accent-primary"
          checked={shown.errorsOnly}
          onChange={(e) => go({ errorsOnly: e.target.checked })}
          data-testid="requests-errors"
        />
        Errors only
      </label>
      {pending && <Loader2 className="size-4 animate-spin text-muted-foreground" aria-label="Loading" />}
    </div>
  );
}
