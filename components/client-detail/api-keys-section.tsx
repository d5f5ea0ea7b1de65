import type { ReactNode } from "react";
import Link from "next/link";
import { z } from "zod";
import { KeyRound } from "lucide-react";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import { timeUntil } from "@/lib/keys/expiry";
import { countApiKeys, KEY_LIST_LIMIT, listApiKeys, type ApiKeyRow } from "@/lib/keys/queries";
import type { SectionProps } from "./section-props";
import { ApiKeysToolbar } from "./api-keys-toolbar";
import { NewApiKeyDialog } from "./new-api-key-dialog";
import { EndGraceButton, KeyActionsProvider, KeyRowButtons } from "./key-row-actions";

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** `?keys_q=` and `?revoked=1`; anything malformed falls back to the default view. */
const keyListParams = z.object({
  keys_q: z.preprocess(first, z.string().trim().max(100)).catch(""),
  revoked: z.preprocess(first, z.literal("1")).optional().catch(undefined),
  keys_page: z.preprocess(first, z.coerce.number().int().min(1).max(100_000)).catch(1),
});

export async function ApiKeysSection({ client, searchParams }: SectionProps) {
  const params = keyListParams.parse(searchParams);
  const q = params.keys_q ?? "";
  const showInactive = params.revoked === "1";
  const page = params.keys_page;
  const db = await getDb();
  const [fetched, counts] = await Promise.all([
    // one extra row tells whether an older page exists
    listApiKeys(db, client.id, { q, showInactive, limit: KEY_LIST_LIMIT + 1, offset: (page - 1) * KEY_LIST_LIMIT }),
    countApiKeys(db, client.id),
  ]);
  const rows = fetched.slice(0, KEY_LIST_LIMIT);
  const hasOlder = fetched.length > KEY_LIST_LIMIT;
  const pageHref = (p: number) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(searchParams)) if (typeof v === "string" && k !== "keys_page") sp.set(k, v);
    if (p > 1) sp.set("keys_page", String(p));
    const qs = sp.toString();
    return `/clients/${client.id}${qs ? `?${qs}` : ""}#api-keys-title`;
  };
  const inactive = counts.revoked + counts.expired;
  const hasAnyKey = counts.active + inactive > 0;
  const now = new Date();

  return (
    <Card aria-labelledby="api-keys-title" data-testid="api-keys-section">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="api-keys-title">API keys</h2>
        </CardTitle>
        <CardDescription>
          {formatCount(counts.active)} active {counts.active === 1 ? "key" : "keys"}. Services send a key as{" "}
          <code className="rounded bg-muted px-1 text-xs">Authorization: Bearer sk_…</code>
        </CardDescription>
        <CardAction>
          <NewApiKeyDialog clientId={client.id} maxLifetimeDays={getConfig().keys.max_lifetime_days ?? null} />
        </CardAction>
      </CardHeader>
      <CardContent className="grid gap-4">
        {hasAnyKey ? (
          <>
            <ApiKeysToolbar initialQuery={q} showInactive={showInactive} inactiveCount={inactive} />
            {rows.length > 0 ? (
              <KeysTable clientId={client.id} rows={rows} now={now} />
            ) : (
              <EmptyState>
                {q
                  ? `No ${showInactive ? "" : "active "}keys match “${q}”.`
                  : "No active keys. Revoked and expired keys are hidden: tick “Show revoked and expired keys” to see them."}
              </EmptyState>
            )}
            {(page > 1 || hasOlder) && (
              <nav aria-label="Key pages" className="flex items-center justify-between gap-2 text-sm">
                <span className="text-muted-foreground" role="status">
                  Keys {formatCount((page - 1) * KEY_LIST_LIMIT + 1)}–{formatCount((page - 1) * KEY_LIST_LIMIT + rows.length)}, newest
                  first
                </span>
                <span className="flex gap-2">
                  {page > 1 && (
                    <Button asChild variant="outline" size="sm">
                      <Link href={pageHref(page - 1)} prefetch={false} scroll={false}>
                        Newer
                      </Link>
                    </Button>
                  )}
                  {hasOlder && (
                    <Button asChild variant="outline" size="sm">
                      <Link href={pageHref(page + 1)} prefetch={false} scroll={false}>
                        Older
                      </Link>
                    </Button>
                  )}
                </span>
              </nav>
            )}
          </>
        ) : (
          <EmptyState>
            <KeyRound className="mx-auto mb-2 size-6 text-muted-foreground" aria-hidden />
            No API keys yet. Create a key to let a service call Lumen.
          </EmptyState>
        )}
      </CardContent>
    </Card>
  );
}

function EmptyState({ children }: { children: ReactNode }) {
  return (
    <div className="rounded-md border border-dashed px-4 py-8 text-center text-sm text-muted-foreground" data-testid="keys-empty">
      {children}
    </div>
  );
}

function KeysTable({ clientId, rows, now }: { clientId: string; rows: ApiKeyRow[]; now: Date }) {
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
            const expired = key.expiresAt !== null && key.expiresAt <= now;
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
                        old <span className="font-mono">{g.hint}</span> valid until <LocalDate iso={g.validUntil.toISOString()} withTime />{" "}
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
                <TableCell>{key.lastUsedAt ? <LocalDate iso={key.lastUsedAt.toISOString()} withTime /> : "Never"}</TableCell>
                <TableCell>
                  <LocalDate iso={key.createdAt.toISOString()} />
                </TableCell>
                <TableCell data-testid="key-expires">
                  {key.revokedAt ? (
                    <span className="inline-flex items-center gap-2">
                      <Badge variant="outline" className="text-muted-foreground">
                        Revoked
                      </Badge>
                      <LocalDate iso={key.revokedAt.toISOString()} withTime />
                    </span>
                  ) : (
                    <Expires at={key.expiresAt} now={now} />
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
