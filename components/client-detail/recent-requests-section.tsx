import Link from "next/link";
import { Activity, Check, Minus } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import {
  keyFilterOptions,
  listRecentRequests,
  parseRecentRequestParams,
  RECENT_REQUESTS_PAGE,
  type RecentRequestRow,
} from "@/lib/clients/recent-requests";
import { cn } from "@/lib/utils";
import type { SectionProps } from "./sections";
import { RecentRequestsToolbar } from "./recent-requests-toolbar";

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
        <RequestsTable rows={page.rows} />
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

const ms = (v: number | null) => (v === null ? "–" : v < 10_000 ? `${formatCount(v)} ms` : `${(v / 1000).toFixed(1)} s`);

function StatusBadge({ status, errorCode }: { status: number; errorCode: string | null }) {
  const tone =
    status < 400
      ? "border-success/40 bg-success/10 text-success"
      : status < 500
        ? "border-warning bg-warning/15 text-warning-foreground"
        : "border-destructive/40 bg-destructive/10 text-destructive";
  return (
    <Badge variant="outline" className={cn("tabular-nums", tone)} title={errorCode ?? undefined}>
      {status}
      {errorCode && <span className="font-normal">{errorCode}</span>}
    </Badge>
  );
}

function YesNo({ value, yes }: { value: boolean; yes: string }) {
  return value ? (
    <span className="inline-flex items-center gap-1">
      <Check className="size-3.5" aria-hidden />
      {yes}
    </span>
  ) : (
    <span className="text-muted-foreground">
      <Minus className="inline size-3.5" aria-hidden />
      <span className="sr-only">no</span>
    </span>
  );
}

function RequestsTable({ rows }: { rows: RecentRequestRow[] }) {
  return (
    <Table data-testid="requests-table" className="text-xs [&_td]:px-1.5 [&_th]:px-1.5">
      <TableHeader>
        <TableRow>
          <TableHead scope="col">Time</TableHead>
          <TableHead scope="col">Key</TableHead>
          <TableHead scope="col">Model</TableHead>
          <TableHead scope="col">Status</TableHead>
          <TableHead scope="col" className="text-right">
            Input
          </TableHead>
          <TableHead scope="col" className="text-right">
            Output
          </TableHead>
          <TableHead scope="col" className="text-right">
            Coins
          </TableHead>
          <TableHead scope="col" className="text-right">
            Duration
          </TableHead>
          <TableHead scope="col" className="text-right">
            <abbr title="Time to first token" className="no-underline">
              TTFT
            </abbr>
          </TableHead>
          <TableHead scope="col">Streamed</TableHead>
          <TableHead scope="col">Usage</TableHead>
          <TableHead scope="col">Request ID</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((r) => (
          <TableRow key={r.id} data-testid="request-row" data-status={r.status}>
            <TableCell>
              <LocalDate iso={r.createdAt.toISOString()} precision="second" />
            </TableCell>
            <TableCell className="max-w-36 truncate" title={r.keyName ?? undefined}>
              {r.keyName ?? <span className="text-muted-foreground">deleted key</span>}
            </TableCell>
            <TableCell className="max-w-36 truncate" title={r.model}>
              {r.model}
            </TableCell>
            <TableCell>
              <StatusBadge status={r.status} errorCode={r.errorCode} />
            </TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(r.inputTokens)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(r.outputTokens)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCoins(r.coins, 4)}</TableCell>
            <TableCell className="text-right tabular-nums">{ms(r.durationMs)}</TableCell>
            <TableCell className="text-right tabular-nums">{ms(r.ttftMs)}</TableCell>
            <TableCell>
              <YesNo value={r.streamed} yes="yes" />
            </TableCell>
            <TableCell>{r.usageEstimated ? <span className="text-warning-foreground">estimated</span> : "measured"}</TableCell>
            <TableCell className="max-w-40 truncate font-mono" title={r.requestId ?? undefined}>
              {r.requestId ?? "–"}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
