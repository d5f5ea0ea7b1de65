import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { likeContains } from "@/lib/clients/queries";

/** More keys than this are not listed at once; the search narrows them down. */
/** Keys shown per page of the detail page (a client may have thousands; the page stays cheap). */
export const KEY_LIST_LIMIT = 50;

export interface ApiKeyRow {
  id: string;
  name: string;
  hint: string;
  requests: number;
  /** input + output, as an exact decimal string */
  tokens: string;
  coins: string;
  lastUsedAt: Date | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface ApiKeyListOptions {
  /** Case-insensitive substring of the name; `%` and `_` are literal. */
  q?: string;
  showRevoked?: boolean;
  limit?: number;
  offset?: number;
}

/** A client's keys, newest first (the (client_id, created_at) index serves the order). */
export async function listApiKeys(ex: Executor, clientId: string, opts: ApiKeyListOptions = {}): Promise<ApiKeyRow[]> {
  const q = opts.q?.trim();
  return ex
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      hint: apiKeys.hint,
      requests: apiKeys.requests,
      tokens: sql<string>`(${apiKeys.inputTokens} + ${apiKeys.outputTokens})::text`,
      coins: sql<string>`${apiKeys.coinsSpent}::text`,
      lastUsedAt: apiKeys.lastUsedAt,
      createdAt: apiKeys.createdAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.clientId, clientId),
        opts.showRevoked ? undefined : isNull(apiKeys.revokedAt),
        q ? sql`lower(${apiKeys.name}) like lower(${likeContains(q)}) escape '\\'` : undefined,
      ),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(opts.limit ?? KEY_LIST_LIMIT)
    .offset(opts.offset ?? 0);
}

export interface ApiKeyCounts {
  active: number;
  revoked: number;
}

/** How many keys the client has, whatever the search: tells "no keys yet" from "no match". */
export async function countApiKeys(ex: Executor, clientId: string): Promise<ApiKeyCounts> {
  const [row] = await ex
    .select({
      active: sql<number>`count(*) filter (where ${apiKeys.revokedAt} is null)::int`,
      revoked: sql<number>`count(*) filter (where ${apiKeys.revokedAt} is not null)::int`,
    })
    .from(apiKeys)
    .where(eq(apiKeys.clientId, clientId));
  return { active: Number(row?.active ?? 0), revoked: Number(row?.revoked ?? 0) };
}

export interface KeyLookup {
  keyId: string;
  clientId: string;
  /** The client's name, which the access rules and the pool config are keyed by. */
  clientName: string;
  clientActive: boolean;
  revokedAt: Date | null;
}

/** The gateway's authentication lookup: one query on the unique hash index. Null when unknown. */
export async function findKeyByHash(ex: Executor, hash: string): Promise<KeyLookup | null> {
  const [row] = await ex
    .select({
      keyId: apiKeys.id,
      clientId: apiKeys.clientId,
      clientName: clients.name,
      clientActive: clients.active,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .innerJoin(clients, eq(clients.id, apiKeys.clientId))
    .where(eq(apiKeys.keyHash, hash))
    .limit(1);
  return row ?? null;
}
