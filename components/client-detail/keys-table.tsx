"use client";

import Link from "next/link";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { Badge } from "@/components/ui/badge";
import { formatCoins, formatCount } from "@/lib/format";
import { timeUntil } from "@/lib/keys/expiry";
import type { ApiKeyRow } from "@/lib/keys/queries";
import { EndGraceButton, KeyActionsProvider, KeyRowButtons } from "./key-row-actions";

/**
 * One API key as the table shows it (instants as ISO strings). A client component for the same reason as
 * the requests table (requests-table.tsx): a page of small objects in the RSC payload instead of every
 * cell twice.
 */
export type KeyView = Omit<ApiKeyRow, Instants | "rotatedAt" | "graceSecrets"> & { [K in Instants]: ApiKeyRow[K] extends Date ? string : string | null } & {
  graceSecrets: { hint: string; validUntil: string }[];
};
type Instants = "lastUsedAt" | "createdAt" | "revokedAt" | "expiresAt";

/** `now`: the server's instant of the render, so expiry reads the same in the HTML and after hydration. */
export function KeysTable({ clientId, rows, now: nowIso }: { clientId: string; rows: KeyView[]; now: string }) {
  const now = new Date(nowIso);
  const requestsHref = (keyId: string) => `/clients/${clientId}?requests_key=${keyId}#recent-requests-title`;
  return (
    <KeyActionsProvider clientId={clientId}>
      <Table
        data-testid="api-keys-table"
        // Column styles once on the table, not on each of the 50 rows' cells (smaller HTML and RSC payload).
        className="[&_td:first-child]:max-w-xs [&_td:first-child]:truncate [&_td:first-child]:font-medium [&_td:nth-child(2)]:font-mono [&_td:nth-child(2)]:text-xs [&_td:nth-child(n+3):nth-child(-n+5)]:text-right [&_td:nth-child(n+3):nth-child(-n+5)]:tabular-nums [&_td:last-child]:text-right [&_td:nth-child(3)_a]:underline-offset-4 [&_td:nth-child(3)_a:hover]:underline"
      >
        <TableHeader>
          <TableRow>
            <TableHead>Name</TableHead>
            <TableHead>Hint</TableHead>
            <TableHead className="text-right">Requests</TableHead>
            <TableHead className="text-right">Tokens</TableHead>
            <TableHead className="text-right">Coins</TableHead>
            <TableHead>Last used</TableHead>
            <TableHead>Created</TableHead>
            <TableHead>Expires</TableHead>
            <TableHead>
              <span className="sr-only">Actions</span>
            </TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {rows.map((key) => {
            const expired = key.expiresAt !== null && new Date(key.expiresAt) <= now;
            const inactive = key.revokedAt !== null || expired;
            const target = { keyId: key.id, name: key.name, hint: key.hint };
            return (
              <TableRow
                key={key.id}
                data-testid="api-key-row"
                {...(key.revokedAt ? { "data-revoked": "true" } : null)}
                {...(expired ? { "data-expired": "true" } : null)}
                {...(inactive ? { className: "text-muted-foreground" } : null)}
              >
                <TableCell title={key.name}>
                  {key.name}
                </TableCell>
                <TableCell>
                  <div>{key.hint}</div>
                  {!inactive &&
                    key.graceSecrets.map((g) => (
                      <div key={g.hint} className="mt-1 font-sans text-warning-foreground" data-testid="grace-secret">
                        old <span className="font-mono">{g.hint}</span> valid until <LocalDate iso={g.validUntil} withTime />{" "}
                        · <EndGraceButton {...target} />
                      </div>
                    ))}
                </TableCell>
                <TableCell>
                  {key.requests > 0 ? (
                    <Link
                      href={requestsHref(key.id)}
                      aria-label={`${formatCount(key.requests)} requests: show the recent requests of key ${key.name}`}
                      prefetch={false}
                      scroll={false}
                    >
                      {formatCount(key.requests)}
                    </Link>
                  ) : (
                    "0"
                  )}
                </TableCell>
                <TableCell>{formatCount(key.tokens)}</TableCell>
                <TableCell>{formatCoins(key.coins)}</TableCell>
                <TableCell>{key.lastUsedAt ? <LocalDate iso={key.lastUsedAt} withTime /> : "Never"}</TableCell>
                <TableCell>
                  <LocalDate iso={key.createdAt} />
                </TableCell>
                <TableCell data-testid="key-expires">
                  {key.revokedAt ? (
                    <span className="inline-flex items-center gap-2">
                      <Badge variant="outline" className="text-muted-foreground">
                        Revoked
                      </Badge>
                      <LocalDate iso={key.revokedAt} withTime />
                    </span>
                  ) : (
                    <Expires at={key.expiresAt === null ? null : new Date(key.expiresAt)} now={now} />
                  )}
                </TableCell>
                <TableCell>{inactive ? null : <KeyRowButtons {...target} />}</TableCell>
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
    </KeyActionsProvider>
  );
}

/** "in 12 days" (the instant on hover), "Never", or an Expired badge with the date. */
function Expires({ at, now }: { at: Date | null; now: Date }) {
  if (!at) return <span className="text-muted-foreground">Never</span>;
  const iso = at.toISOString();
  const until = timeUntil(at, now);
  if (!until) {
    return (
      <span className="inline-flex items-center gap-2">
        <Badge variant="outline" className="border-destructive/40 bg-destructive/10 text-destructive">
          Expired
        </Badge>
        <LocalDate iso={iso} />
      </span>
    );
  }
  const soon = +at - +now < 7 * 86_400_000;
  return (
    <time dateTime={iso} title={at.toUTCString()} className={soon ? "font-medium text-warning-foreground" : undefined}>
      {until}
    </time>
  );
}
