import Link from "next/link";
import type { ReactNode } from "react";
import { History } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { ACTIVITY_PAGE, listActivity, parseActivityParams } from "@/lib/audit/queries";
import { getDb } from "@/lib/db/client";
import { formatCount } from "@/lib/format";
import type { SectionProps } from "./section-props";
import { ActivityFilter } from "./activity-filter";
import { ActivityTable, type ActivityView } from "./activity-table";

/** Every console change to this client, from the append-only activity trail (newest first, 50 a page). */
export async function ActivitySection({ client, searchParams }: SectionProps) {
  const params = parseActivityParams(searchParams);
  const { rows, hasOlder } = await listActivity(await getDb(), client.id, params);
  const pageHref = (p: number) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(searchParams)) if (typeof v === "string" && k !== "activity_page") sp.set(k, v);
    if (p > 1) sp.set("activity_page", String(p));
    const qs = sp.toString();
    return `/clients/${client.id}${qs ? `?${qs}` : ""}#activity-title`;
  };
  const first = (params.page - 1) * ACTIVITY_PAGE + 1;
  return (
    <ActivityCard>
      <ActivityFilter kind={params.kind} />
      {rows.length === 0 ? (
        <div
          className="flex flex-col items-center gap-2 rounded-lg border border-dashed px-4 py-8 text-center text-sm text-muted-foreground"
          data-testid="activity-empty"
        >
          <History className="size-6" aria-hidden />
          <p>{params.kind || params.page > 1 ? "No activity of this kind." : "No activity recorded yet."}</p>
        </div>
      ) : (
        <ActivityTable
          rows={rows.map(
            (r): ActivityView => ({
              id: r.id,
              at: r.createdAt.toISOString(),
              action: r.action,
              actorEmail: r.actorEmail,
              actorName: r.actorName,
              targetLabel: r.targetLabel,
              details: r.details,
              ip: r.ip,
              userAgent: r.userAgent,
            }),
          )}
        />
      )}
      {(params.page > 1 || hasOlder) && (
        <nav aria-label="Activity pages" className="flex items-center justify-between gap-2 text-sm">
          <span className="text-muted-foreground">
            Events {formatCount(first)}–{formatCount(first + rows.length - 1)}, newest first
          </span>
          <span className="flex gap-2">
            {params.page > 1 && (
              <Button asChild variant="outline" size="sm">
                <Link href={pageHref(params.page - 1)} prefetch={false} scroll={false}>
                  Newer
                </Link>
              </Button>
            )}
            {hasOlder && (
              <Button asChild variant="outline" size="sm">
                <Link href={pageHref(params.page + 1)} prefetch={false} scroll={false} data-testid="activity-older">
                  Older
                </Link>
              </Button>
            )}
          </span>
        </nav>
      )}
    </ActivityCard>
  );
}

function ActivityCard({ children }: { children: ReactNode }) {
  return (
    <Card aria-labelledby="activity-title" role="region" data-testid="activity-section">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="activity-title">Activity</h2>
        </CardTitle>
        <CardDescription>
          Who changed what for this client, and from where. Recorded with every change and never edited.
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">{children}</CardContent>
    </Card>
  );
}
