import type { ReactNode } from "react";
import { z } from "zod";
import { KeyRound } from "lucide-react";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import { countApiKeys, KEY_LIST_LIMIT, listApiKeys, type ApiKeyRow } from "@/lib/keys/queries";
import type { SectionProps } from "./sections";
import { ApiKeysToolbar } from "./api-keys-toolbar";
import { NewApiKeyDialog } from "./new-api-key-dialog";
import { RevokeKeyButton } from "./revoke-key-button";

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** `?keys_q=` and `?revoked=1`; anything malformed falls back to the default view. */
const keyListParams = z.object({
  keys_q: z.preprocess(first, z.string().trim().max(100)).catch(""),
  revoked: z.preprocess(first, z.literal("1")).optional().catch(undefined),
});

export async function ApiKeysSection({ client, searchParams }: SectionProps) {
  const params = keyListParams.parse(searchParams);
  const q = params.keys_q ?? "";
  const showRevoked = params.revoked === "1";
  const db = await getDb();
  const [rows, counts] = await Promise.all([
    listApiKeys(db, client.id, { q, showRevoked, limit: KEY_LIST_LIMIT }),
    countApiKeys(db, client.id),
  ]);
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
            {rows.length >= KEY_LIST_LIMIT && (
              <p className="text-sm text-muted-foreground" role="status">
                Showing the newest {formatCount(KEY_LIST_LIMIT)} keys. Search by name to find others.
              </p>
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
                <RevokeKeyButton clientId={clientId} keyId={key.id} name={key.name} />
              )}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
