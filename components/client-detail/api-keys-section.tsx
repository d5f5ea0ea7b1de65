import type { ReactNode } from "react";
import Link from "next/link";
import { z } from "zod";
import { KeyRound } from "lucide-react";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { formatCount } from "@/lib/format";
import { countApiKeys, KEY_LIST_LIMIT, listApiKeys, type ApiKeyRow } from "@/lib/keys/queries";
import type { SectionProps } from "./section-props";
import { ApiKeysToolbar } from "./api-keys-toolbar";
import { NewApiKeyDialog } from "./new-api-key-dialog";
import { KeysTable, type KeyView } from "./keys-table";

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
              <KeysTable clientId={client.id} rows={rows.map(keyView)} now={now.toISOString()} />
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

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function keyView({ rotatedAt: _rotatedAt, lastUsedAt, createdAt, revokedAt, expiresAt, graceSecrets, ...rest }: ApiKeyRow): KeyView {
  return {
    ...rest,
    lastUsedAt: iso(lastUsedAt),
    createdAt: createdAt.toISOString(),
    revokedAt: iso(revokedAt),
    expiresAt: iso(expiresAt),
    graceSecrets: graceSecrets.map((g) => ({ hint: g.hint, validUntil: g.validUntil.toISOString() })),
  };
}
