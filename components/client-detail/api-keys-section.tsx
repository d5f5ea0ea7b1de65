import type { ReactNode } from "react";
import { z } from "zod";
import { KeyRound } from "lucide-react";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import { countApiKeys, KEY_LIST_LIMIT, listApiKeys, type ApiKeyRow } from "@/lib/keys/queries";
import type { SectionProps } from "./section-props";
import { ApiKeysToolbar } from "./api-keys-toolbar";
import { NewApiKeyDialog } from "./new-api-key-dialog";
import { RevokeKeyButton, RevokeKeyProvider } from "./revoke-key-button";
import Link from "next/link";
import { Button } from "@/components/ui/button";

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
  const showRevoked = params.revoked === "1";
  const page = params.keys_page;
  const db = await getDb();
  const [fetched, counts] = await Promise.all([
    // one extra row tells whether an older page exists
    listApiKeys(db, client.id, { q, showRevoked, limit: KEY_LIST_LIMIT + 1, offset: (page - 1) * KEY_LIST_LIMIT }),
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
  const hasAnyKey = counts.active + counts.revoked > 0;

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
          <NewApiKeyDialog clientId={client.id} />
        </CardAction>
      </CardHeader>
      <CardContent className="grid gap-4">
        {hasAnyKey ? (
          <>
            <ApiKeysToolbar initialQuery={q} showRevoked={showRevoked} revokedCount={counts.revoked} />
            {rows.length > 0 ? (
              <KeysTable clientId={client.id} rows={rows} />
            ) : (
              <EmptyState>
                {q
                  ? `No ${showRevoked ? "" : "active "}keys match “${q}”.`
                  : "No active keys. Revoked keys are hidden: tick “Show revoked keys” to see them."}
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

function KeysTable({ clientId, rows }: { clientId: string; rows: ApiKeyRow[] }) {
  return (
    <RevokeKeyProvider clientId={clientId}>
    <Table data-testid="api-keys-table">
      <TableHeader>
        <TableRow>
          <TableHead>Name</TableHead>
          <TableHead>Hint</TableHead>
          <TableHead className="text-right">Requests</TableHead>
          <TableHead className="text-right">Tokens</TableHead>
          <TableHead className="text-right">Coins</TableHead>
          <TableHead>Last used</TableHead>
          <TableHead>Created</TableHead>
          <TableHead>
            <span className="sr-only">Revoke</span>
          </TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((key) => (
          <TableRow
            key={key.id}
            data-testid="api-key-row"
            data-revoked={key.revokedAt ? "true" : undefined}
            className={key.revokedAt ? "text-muted-foreground" : undefined}
          >
            <TableCell className="max-w-xs truncate font-medium" title={key.name}>
              {key.name}
            </TableCell>
            <TableCell className="font-mono text-xs">{key.hint}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(key.requests)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(key.tokens)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCoins(key.coins)}</TableCell>
            <TableCell>{key.lastUsedAt ? <LocalDate iso={key.lastUsedAt.toISOString()} withTime /> : "Never"}</TableCell>
            <TableCell>
              <LocalDate iso={key.createdAt.toISOString()} />
            </TableCell>
            <TableCell className="text-right">
              {key.revokedAt ? (
                <span>
                  Revoked <LocalDate iso={key.revokedAt.toISOString()} withTime />
                </span>
              ) : (
                <RevokeKeyButton keyId={key.id} name={key.name} />
              )}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
    </RevokeKeyProvider>
  );
}
