"use client";

import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { formatCoins, formatCount } from "@/lib/format";
import type { RecentRequestRow } from "@/lib/clients/recent-requests";

/**
 * One request-log row as the table shows it. The table is a client component on purpose: the server sends
 * these 50 small objects in the RSC payload instead of the ~600 cells they render to (the payload carried
 * every cell a second time, beside the HTML), which was most of the detail page's render time.
 */
export type RequestView = Omit<RecentRequestRow, "createdAt" | "cursor" | "keyId"> & { at: string };

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

export function RequestsTable({ rows }: { rows: RequestView[] }) {
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
              <LocalDate iso={r.at} precision="second" />
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
