import { and, desc, eq, gt, isNull, or, sql } from "drizzle-orm";
import { rows, type Executor } from "@/lib/db/client";
import { apiKeys, apiKeyRetiredSecrets } from "@/lib/db/schema";
import { likeContains } from "@/lib/clients/queries";

/** Keys shown per page of the detail page (a client may have thousands; the page stays cheap). */
export const KEY_LIST_LIMIT = 25;

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
  expiresAt: Date | null;
  rotatedAt: Date | null;
  /** Old secrets of a rotation still in their grace, soonest end first. */
  graceSecrets: GraceSecret[];
}

export interface GraceSecret {
  hint: string;
  validUntil: Date;
}

export interface ApiKeyListOptions {
  /** Case-insensitive substring of the name; `%` and `_` are literal. */
  q?: string;
  /** Also list revoked and expired keys (hidden by default: they no longer work). */
  showInactive?: boolean;
  limit?: number;
  offset?: number;
}

/** Neither revoked nor expired (by the database clock). */
export const usableKey = () => and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)));

/** A client's keys, newest first (the (client_id, created_at) index serves the order). */
export async function listApiKeys(ex: Executor, clientId: string, opts: ApiKeyListOptions = {}): Promise<ApiKeyRow[]> {
  const q = opts.q?.trim();
  const found = await ex
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
      expiresAt: apiKeys.expiresAt,
      rotatedAt: apiKeys.rotatedAt,
      // Only a rotated key has any; the (key_id, valid_until) index answers each row's probe. The outer id is
      // written out: Drizzle leaves columns of a one-table query unqualified, and "id" would mean r.id here.
      graceSecrets: sql<string | null>`case when ${apiKeys.rotatedAt} is null then null else (
        select json_agg(json_build_object('hint', r.hint, 'validUntil', r.valid_until) order by r.valid_until)::text
        from ${apiKeyRetiredSecrets} r where r.key_id = "api_keys"."id" and r.valid_until > now()) end`,
    })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.clientId, clientId),
        opts.showInactive ? undefined : usableKey(),
        q ? sql`lower(${apiKeys.name}) like lower(${likeContains(q)}) escape '\\'` : undefined,
      ),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(opts.limit ?? KEY_LIST_LIMIT)
    .offset(opts.offset ?? 0);
  return found.map((k) => ({
    ...k,
    graceSecrets: k.graceSecrets
      ? (JSON.parse(k.graceSecrets) as { hint: string; validUntil: string }[]).map((g) => ({ hint: g.hint, validUntil: new Date(g.validUntil) }))
      : [],
  }));
}

export interface ApiKeyCounts {
  /** Usable now: neither revoked nor expired. */
  active: number;
  revoked: number;
  /** Expired and not revoked. */
  expired: number;
}

/** How many keys the client has, whatever the search: tells "no keys yet" from "no match". */
export async function countApiKeys(ex: Executor, clientId: string): Promise<ApiKeyCounts> {
  const [row] = await ex
    .select({
      active: sql<number>`count(*) filter (where ${usableKey()})::int`,
      revoked: sql<number>`count(*) filter (where ${apiKeys.revokedAt} is not null)::int`,
      expired: sql<number>`count(*) filter (where ${apiKeys.revokedAt} is null and ${apiKeys.expiresAt} <= now())::int`,
    })
    .from(apiKeys)
    .where(eq(apiKeys.clientId, clientId));
  return { active: Number(row?.active ?? 0), revoked: Number(row?.revoked ?? 0), expired: Number(row?.expired ?? 0) };
}

export interface KeyLookup {
  keyId: string;
  clientId: string;
  /** The client's name, which the access rules and the pool config are keyed by. */
  clientName: string;
  clientActive: boolean;
  revokedAt: Date | null;
  /** The key's expiry (all its secrets). */
  expiresAt: Date | null;
  /** Null for the key's current secret; for an old secret of a rotation, the end of its grace. */
  secretValidUntil: Date | null;
}

const instant = (ms: number | null) => (ms === null ? null : new Date(Number(ms)));

/**
 * The gateway's authentication lookup: one statement probing the two unique hash indexes (the current
 * secrets in api_keys, the replaced ones in api_key_retired_secrets), so a miss costs what a hit costs.
 * Null when unknown. Times come as epoch milliseconds so both drivers return the same thing.
 */
export async function findKeyByHash(ex: Executor, hash: string): Promise<KeyLookup | null> {
  const ms = (col: string) => sql.raw(`floor(extract(epoch from ${col}) * 1000)::float8`);
  const [row] = await rows<{
    keyId: string;
    clientId: string;
    clientName: string;
    clientActive: boolean;
    revokedAt: number | null;
    expiresAt: number | null;
    secretValidUntil: number | null;
  }>(
    ex,
    sql`select k.id as "keyId", k.client_id as "clientId", c.name as "clientName", c.active as "clientActive",
               ${ms("k.revoked_at")} as "revokedAt", ${ms("k.expires_at")} as "expiresAt",
               ${ms("s.valid_until")} as "secretValidUntil"
        from (select id as key_id, null::timestamptz as valid_until from api_keys where key_hash = ${hash}
              union all
              select key_id, valid_until from api_key_retired_secrets where key_hash = ${hash}) s
        join api_keys k on k.id = s.key_id
        join clients c on c.id = k.client_id
        limit 1`,
  );
  if (!row) return null;
  return {
    keyId: row.keyId,
    clientId: row.clientId,
    clientName: row.clientName,
    clientActive: row.clientActive,
    revokedAt: instant(row.revokedAt),
    expiresAt: instant(row.expiresAt),
    secretValidUntil: instant(row.secretValidUntil),
  };
}
