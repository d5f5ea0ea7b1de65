"use client";

import { useOptimistic } from "react";
import { Loader2 } from "lucide-react";
import { AUDIT_KINDS, type AuditKind } from "@/lib/audit/kinds";
import { NativeSelect } from "@/components/ui/native-select";
import { useUrlState } from "./use-url-state";

const KIND_LABELS: Record<AuditKind, string> = {
  client: "Client (created, activated, deactivated)",
  managers: "Managers",
  keys: "API keys",
  consent: "Model consent",
  config: "config.yaml",
};

/** The Activity section's kind filter (`?activity_kind=`); changing it goes back to the newest page. */
export function ActivityFilter({ kind }: { kind: AuditKind | null }) {
  const { navigate, pending } = useUrlState();
  const [shown, setShown] = useOptimistic(kind ?? "");
  return (
    <div className="flex items-center gap-2">
      <label htmlFor="activity-kind" className="text-sm font-medium">
        Show
      </label>
      <NativeSelect
        id="activity-kind"
        value={shown}
        onChange={(e) => {
          const next = e.target.value;
          navigate({ activity_kind: next || null, activity_page: null }, () => setShown(next));
        }}
        data-testid="activity-kind"
      >
        <option value="">All activity</option>
        {AUDIT_KINDS.map((k) => (
          <option key={k} value={k}>
            {KIND_LABELS[k]}
          </option>
        ))}
      </NativeSelect>
      {pending && <Loader2 className="size-4 animate-spin text-muted-foreground" aria-label="Loading" />}
    </div>
  );
}
