import Link from "next/link";
import { Activity } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { getDb } from "@/lib/db/client";
import { formatCount } from "@/lib/format";
import {
  keyFilterOptions,
  listRecentRequests,
  parseRecentRequestParams,
  RECENT_REQUESTS_PAGE,
} from "@/lib/clients/recent-requests";
import type { SectionProps } from "./section-props";
import { RecentRequestsToolbar } from "./recent-requests-toolbar";
import { RequestsTable, type RequestView } from "./requests-table";

const SECTION_PARAMS = ["requests_before", "requests_after"];

/** The client's latest request-log rows, 50 a page, by key and errors only (SPEC issue 11, item 4). */
export async function RecentRequestsSection({ client, searchParams }: SectionProps) {
  const params = parseRecentRequestParams(searchParams);
  const db = await getDb();
  const [page, keys] = await Promise.all([listRecentRequests(db, client.id, params), keyFilterOptions(db, client.id)]);
  const href = (change: Record<string, string>) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(searchParams)) if (typeof v === "string" && !SECTION_PARAMS.includes(k)) sp.set(k, v);
    for (const [k, v] of Object.entries(change)) sp.set(k, v);
    const qs = sp.toString();
    return `/clients/${client.id}${qs ? `?${qs}` : ""}#recent-requests-title`;
  };
  const filtered = params.errorsOnly || params.keyId !== null;
  const paged = Boolean(params.before || params.after);

  return (
    <RecentRequestsCard>
      <RecentRequestsToolbar keys={keys} keyId={params.keyId} errorsOnly={params.errorsOnly} />
      {page.rows.length === 0 ? (
        <div
          className="flex flex-col items-center gap-2 rounded-lg border border-dashed px-4 py-8 text-center text-sm text-muted-foreground"
          data-testid="requests-empty"
        >
          <Activity className="size-6" aria-hidden />
          <p>
            {paged
              ? "No more requests this way."
              : filtered
                ? `No ${params.errorsOnly ? "failed " : ""}requests${params.keyId ? " with this key" : ""} yet.`
                : "No requests yet. They appear here once a service calls Lumen with one of this client's keys."}
          </p>
        </div>
      ) : (
        <RequestsTable
          rows={page.rows.map(({ createdAt, cursor: _cursor, keyId: _keyId, ...rest }): RequestView => ({ ...rest, at: createdAt.toISOString() }))}
        />
      )}
      {(page.newer || page.older || paged) && (
        <nav aria-label="Request pages" className="flex items-center justify-between gap-2 text-sm">
          <span className="text-muted-foreground">
            {formatCount(page.rows.length)} {page.rows.length === 1 ? "request" : "requests"}, newest first · {RECENT_REQUESTS_PAGE} a
            page
          </span>
          <span className="flex gap-2">
            {paged && (
              <Button asChild variant="ghost" size="sm">
                <Link href={href({})} prefetch={false} scroll={false} data-testid="requests-latest">
                  Latest
                </Link>
              </Button>
            )}
            {page.newer && (
              <Button asChild variant="outline" size="sm">
                <Link href={href({ requests_after: page.newer })} prefetch={false} scroll={false} rel="prev" data-testid="requests-newer">
                  Newer
                </Link>
              </Button>
            )}
            {page.older && (
              <Button asChild variant="outline" size="sm">
                <Link href={href({ requests_before: page.older })} prefetch={false} scroll={false} rel="next" data-testid="requests-older">
                  Older
                </Link>
              </Button>
            )}
          </span>
        </nav>
      )}
    </RecentRequestsCard>
  );
}

function RecentRequestsCard({ children }: { children: React.ReactNode }) {
  return (
    <Card aria-labelledby="recent-requests-title" role="region" data-testid="recent-requests-section">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="recent-requests-title">Recent requests</h2>
        </CardTitle>
        <CardDescription>
          The client&apos;s latest calls as recorded in the request log, newest first. Filter to one key or to failed
          requests to see what a service ran into.
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">{children}</CardContent>
    </Card>
  );
}
