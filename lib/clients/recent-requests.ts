/**
 * Recent requests of a client (detail page): its request-log rows, newest first, 50 a page, optionally
 * only errors (status ≥ 400) and only one key's. The URL is the state: `?requests_errors=1`,
 * `?requests_key=<key id>`, and a page cursor `?requests_before=` / `?requests_after=`.
 *
 * Paging is by keyset, not offset: a cursor is the (created_at, id) of a page's edge row, so every page
 * is one index range scan of at most 51 rows whatever its depth. Indexes: (client_id, created_at) and
 * (key_id, created_at), plus their partial twins `where status >= 400` for "errors only" (which a
 * plain scan would have to dig for when a key seldom fails).
 */
import { and, asc, desc, eq, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "@/lib/db/client";
import { apiKeys, requestLog } from "@/lib/db/schema";
import { isUuid } from "@/lib/ids";

export const RECENT_REQUESTS_PAGE = 50;

/** "2026-01-05T10:11:12.123456Z~12345": an edge row's time (microseconds, UTC) and id. */
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)~(\d{1,18})$/;

export interface Cursor {
  at: string;
  id: number;
}

export function parseCursor(value: unknown): Cursor | undefined {
  if (typeof value !== "string") return undefined;
  const m = CURSOR.exec(value);
  if (!m) return undefined;
  // A real instant PostgreSQL accepts: the date must survive a round trip (no 30 February, no 24:00) and
  // the year be in the log's era (year 0 parses in JavaScript and fails in SQL).
  const t = Date.parse(m[1]!);
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 19) !== m[1]!.slice(0, 19) || t < 0) return undefined;
  return { at: m[1]!, id: Number(m[2]) };
}

export const formatCursor = (c: Cursor) => `${c.at}~${c.id}`;

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

export interface RecentRequestParams {
  errorsOnly: boolean;
  keyId: string | null;
  before?: Cursor;
  after?: Cursor;
}

/** Reads the section's query parameters; anything malformed falls back to the default view. */
export function parseRecentRequestParams(sp: Record<string, string | string[] | undefined>): RecentRequestParams {
  const errorsOnly = z.literal("1").safeParse(first(sp.requests_errors)).success;
  const key = first(sp.requests_key);
  const before = parseCursor(first(sp.requests_before));
  const after = before ? undefined : parseCursor(first(sp.requests_after));
  return { errorsOnly, keyId: isUuid(key) ? key.toLowerCase() : null, before, after };
}

export interface RecentRequestRow {
  id: number;
  createdAt: Date;
  cursor: string;
  keyId: string | null;
  keyName: string | null;
  model: string;
  status: number;
  errorCode: string | null;
  inputTokens: number;
  outputTokens: number;
  coins: string;
  durationMs: number;
  ttftMs: number | null;
  streamed: boolean;
  usageEstimated: boolean;
  requestId: string | null;
}

export interface RecentRequestsPage {
  rows: RecentRequestRow[];
  /** Cursor of the next older page, when there is one. */
  older: string | null;
  /** Cursor of the next newer page, when this is not the newest. */
  newer: string | null;
}

const cursorText = sql<string>`to_char(${requestLog.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '~' || ${requestLog.id}`;

/**
 * One page of the client's log. Rows of other clients never appear, whatever key id is asked for
 * (the client's id is always in the condition). The caller checks that the viewer may see the client.
 */
export async function listRecentRequests(ex: Executor, clientId: string, params: RecentRequestParams): Promise<RecentRequestsPage> {
  // The bound on created_at alone is what the index range scan starts from; the id settles ties.
  const t = requestLog.createdAt;
  const page: SQL | undefined = params.before
    ? sql`${t} <= ${params.before.at}::timestamptz and (${t} < ${params.before.at}::timestamptz or ${requestLog.id} < ${params.before.id})`
    : params.after
      ? sql`${t} >= ${params.after.at}::timestamptz and (${t} > ${params.after.at}::timestamptz or ${requestLog.id} > ${params.after.id})`
      : undefined;
  const newestFirst = !params.after;
  const order = newestFirst ? [desc(requestLog.createdAt), desc(requestLog.id)] : [asc(requestLog.createdAt), asc(requestLog.id)];
  const fetched = await ex
    .select({
      id: requestLog.id,
      createdAt: requestLog.createdAt,
      cursor: cursorText,
      keyId: requestLog.keyId,
      keyName: apiKeys.name,
      model: requestLog.model,
      status: requestLog.status,
      errorCode: requestLog.errorCode,
      inputTokens: requestLog.inputTokens,
      outputTokens: requestLog.outputTokens,
      coins: sql<string>`${requestLog.coins}::text`,
      durationMs: requestLog.durationMs,
      ttftMs: requestLog.ttftMs,
      streamed: requestLog.streamed,
      usageEstimated: requestLog.usageEstimated,
      requestId: requestLog.requestId,
    })
    .from(requestLog)
    .leftJoin(apiKeys, eq(apiKeys.id, requestLog.keyId))
    .where(
      and(
        eq(requestLog.clientId, clientId),
        params.keyId ? eq(requestLog.keyId, params.keyId) : undefined,
        // Literal 400: the partial indexes' predicate must be visible to the planner as written.
        params.errorsOnly ? sql`${requestLog.status} >= 400` : undefined,
        page,
      ),
    )
    .orderBy(...order)
    .limit(RECENT_REQUESTS_PAGE + 1);
  const more = fetched.length > RECENT_REQUESTS_PAGE;
  const slice = fetched.slice(0, RECENT_REQUESTS_PAGE);
  const rows = (newestFirst ? slice : slice.reverse()).map((r) => ({ ...r, id: Number(r.id) }));
  const firstRow = rows[0];
  const lastRow = rows[rows.length - 1];
  if (newestFirst) {
    return { rows, older: more && lastRow ? lastRow.cursor : null, newer: params.before && firstRow ? firstRow.cursor : null };
  }
  return { rows, older: lastRow ? lastRow.cursor : null, newer: more && firstRow ? firstRow.cursor : null };
}

export interface KeyOption {
  id: string;
  name: string;
  inactive: boolean;
}

/**
 * Keys offered by the section's key filter: usable ones first, then the rest, by name; at most `limit`
 * (a client with more reaches the others through the Requests count of the API keys table).
 */
export async function keyFilterOptions(ex: Executor, clientId: string, limit = 100): Promise<KeyOption[]> {
  const inactive = sql<boolean>`(${apiKeys.revokedAt} is not null or coalesce(${apiKeys.expiresAt} <= now(), false))`;
  return ex
    .select({ id: apiKeys.id, name: apiKeys.name, inactive })
    .from(apiKeys)
    .where(eq(apiKeys.clientId, clientId))
    .orderBy(asc(inactive), asc(sql`lower(${apiKeys.name})`), asc(apiKeys.id))
    .limit(limit);
}
