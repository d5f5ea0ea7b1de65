import Link from "next/link";
import { Activity } from "lucide-react";
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
import type { SectionProps } from "./section-props";
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

/** Status as a small tinted label (plain spans: fifty rows of it stay light in the HTML and the RSC payload). */
function Status({ status, errorCode }: { status: number; errorCode: string | null }) {
  const tone = status < 400 ? "ok" : status < 500 ? "warn" : "bad";
  return (
    <span data-tone={tone} title={errorCode ?? undefined}>
      {status}
      {errorCode && ` ${errorCode}`}
    </span>
  );
}

/**
 * Cell styles are set once on the table (by column), not on each of the 600 cells: right-aligned numbers
 * in columns 5–9, truncated key, model and request id, status tones by data attribute.
 */
const TABLE_STYLE = [
  "text-xs [&_td]:px-1.5 [&_th]:px-1.5 [&_td]:tabular-nums",
  "[&_td:nth-child(n+5):nth-child(-n+9)]:text-right [&_th:nth-child(n+5):nth-child(-n+9)]:text-right",
  "[&_td:nth-child(2)]:max-w-36 [&_td:nth-child(3)]:max-w-36 [&_td:nth-child(12)]:max-w-40 [&_td:nth-child(12)]:font-mono",
  "[&_td:nth-child(2)]:truncate [&_td:nth-child(3)]:truncate [&_td:nth-child(12)]:truncate",
  "[&_[data-tone]]:rounded-md [&_[data-tone]]:border [&_[data-tone]]:px-1.5 [&_[data-tone]]:py-0.5 [&_[data-tone]]:font-medium",
  "[&_[data-tone=ok]]:border-success/40 [&_[data-tone=ok]]:bg-success/10 [&_[data-tone=ok]]:text-success",
  "[&_[data-tone=warn]]:border-warning [&_[data-tone=warn]]:bg-warning/15 [&_[data-tone=warn]]:text-warning-foreground",
  "[&_[data-tone=bad]]:border-destructive/40 [&_[data-tone=bad]]:bg-destructive/10 [&_[data-tone=bad]]:text-destructive",
  "[&_[data-muted]]:text-muted-foreground [&_[data-estimated]]:text-warning-foreground",
].join(" ");

function RequestsTable({ rows }: { rows: RecentRequestRow[] }) {
  return (
    <Table data-testid="requests-table" className={TABLE_STYLE}>
      <TableHeader>
        <TableRow>
          <TableHead scope="col">Time</TableHead>
          <TableHead scope="col">Key</TableHead>
          <TableHead scope="col">Model</TableHead>
          <TableHead scope="col">Status</TableHead>
          <TableHead scope="col">Input</TableHead>
          <TableHead scope="col">Output</TableHead>
          <TableHead scope="col">Coins</TableHead>
          <TableHead scope="col">Duration</TableHead>
          <TableHead scope="col">
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
            <TableCell title={r.keyName ?? undefined}>{r.keyName ?? <span data-muted>deleted key</span>}</TableCell>
            <TableCell title={r.model}>{r.model}</TableCell>
            <TableCell>
              <Status status={r.status} errorCode={r.errorCode} />
            </TableCell>
            <TableCell>{formatCount(r.inputTokens)}</TableCell>
            <TableCell>{formatCount(r.outputTokens)}</TableCell>
            <TableCell>{formatCoins(r.coins, 4)}</TableCell>
            <TableCell>{ms(r.durationMs)}</TableCell>
            <TableCell>{ms(r.ttftMs)}</TableCell>
            <TableCell>{r.streamed ? "yes" : <span data-muted>no</span>}</TableCell>
            <TableCell>{r.usageEstimated ? <span data-estimated>estimated</span> : "measured"}</TableCell>
            <TableCell title={r.requestId ?? undefined}>{r.requestId ?? "–"}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
