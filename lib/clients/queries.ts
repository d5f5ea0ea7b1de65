import { isUuid } from "@/lib/ids";
import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clientManagers, clients, clientTotals } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import { PAGE_SIZE, type ClientListParams } from "./list-params";

export interface ClientSummary {
  totalClients: number;
  totalRequests: string;
  totalTokens: string;
  coinsSpent: string;
}

export interface ClientRow {
  id: string;
  name: string;
  active: boolean;
  managers: number;
  requests: number;
  tokens: string;
  coins: string;
  createdAt: Date;
}

export interface ClientList {
  summary: ClientSummary;
  rows: ClientRow[];
  /**
   * Rows matching the search (all visible clients when there is none). When `totalExact` is false, a
   * lower bound: more than `total` clients match (see SEARCH_COUNT_CAP).
   */
  total: number;
  /** False when a search matched more clients than were counted; `total` and `pageCount` are then "more than". */
  totalExact: boolean;
  page: number;
  /** Pages of `pageSize` rows; when `totalExact` is false, there are more than `pageCount` pages. */
  pageCount: number;
  pageSize: number;
}

/**
 * A search counts its matches exactly up to this many (or to the end of the requested page, when that is
 * further), and beyond it shows "of more than 1,000": an exact count of a substring search evaluates the
 * pattern on every client (a 100,000-client `count(*)` is 10–25 ms on its own — more than the rest of the
 * page), while a capped count stops after cap + 1 matches. The unfiltered view keeps its exact total from
 * the maintained totals.
 */
export const SEARCH_COUNT_CAP = 1_000;

export interface ListClientsOptions {
  /** Count a search's matches exactly up to this many (default SEARCH_COUNT_CAP); tests use a small one. */
  searchCountCap?: number;
}

/** Escapes LIKE wildcards so `%` and `_` typed by a user match themselves. */
export function likeContains(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function visibleTo(viewer: Viewer): SQL | undefined {
  if (viewer.isAdmin) return undefined;
  return inArray(
    clients.id,
    sql`(select ${clientManagers.clientId} from ${clientManagers} where ${clientManagers.userId} = ${viewer.user.id})`,
  );
}

const tokensExpr = sql<string>`(${clients.inputTokens} + ${clients.outputTokens})`;
const lowerName = clients.nameLower;

function orderBy(params: ClientListParams): SQL[] {
  const dir = params.order === "asc" ? asc : desc;
  // name_lower is unique, so it settles every tie (id only guards the impossible); the usage sort
  // indexes are (column desc, name_lower, id), matching this order exactly.
  const tieBreak = [asc(lowerName), asc(clients.id)];
  switch (params.sort) {
    case "name":
      return [dir(lowerName), dir(clients.id)];
    case "managers":
      return [dir(clients.managerCount), ...tieBreak];
    case "active":
      return [dir(clients.active), ...tieBreak];
    case "requests":
      return [dir(clients.requests), ...tieBreak];
    case "tokens":
      return [dir(tokensExpr), ...tieBreak];
    case "coins":
      return [dir(clients.coinsSpent), ...tieBreak];
    case "created":
      return [dir(clients.createdAt), ...tieBreak];
  }
}

/**
 * The summary cards. An administrator sees every client: the maintained totals (client_totals, 16 rows kept
 * by triggers on clients) instead of a scan of 100,000 rows; a manager's few clients are summed directly.
 */
export async function clientSummary(ex: Executor, viewer: Viewer): Promise<ClientSummary> {
  const [row] = viewer.isAdmin
    ? await ex
        .select({
          totalClients: sql<number>`coalesce(sum(${clientTotals.clients}), 0)::int`,
          totalRequests: sql<string>`coalesce(sum(${clientTotals.requests}), 0)::text`,
          totalTokens: sql<string>`coalesce(sum(${clientTotals.inputTokens} + ${clientTotals.outputTokens}), 0)::text`,
          coinsSpent: sql<string>`coalesce(sum(${clientTotals.coinsSpent}), 0)::text`,
        })
        .from(clientTotals)
    : await ex
        .select({
          totalClients: sql<number>`count(*)::int`,
          totalRequests: sql<string>`coalesce(sum(${clients.requests}), 0)::text`,
          totalTokens: sql<string>`coalesce(sum(${tokensExpr}), 0)::text`,
          coinsSpent: sql<string>`coalesce(sum(${clients.coinsSpent}), 0)::text`,
        })
        .from(clients)
        .where(visibleTo(viewer));
  return {
    totalClients: Number(row?.totalClients ?? 0),
    totalRequests: row?.totalRequests ?? "0",
    totalTokens: row?.totalTokens ?? "0",
    coinsSpent: row?.coinsSpent ?? "0",
  };
}

/**
 * The row keys of one page, in page order. A deep page (`OFFSET` 49,950) skips its rows in an index
 * that holds the key — the usage sort indexes end in `id`, and `name_lower` is unique, so sorting by name
 * picks `name_lower` itself — which PostgreSQL can walk without visiting the table; only the page's 50
 * rows are then read in full. The search filter is checked on the same index entries.
 */
function pageKeys(ex: Executor, where: SQL | undefined, params: ClientListParams, page: number) {
  const byName = params.sort === "name";
  const key = byName ? lowerName : clients.id;
  // name_lower is unique: ordering by it alone equals ordering by (name_lower, id), and matches its index.
  const order = byName ? [(params.order === "asc" ? asc : desc)(lowerName)] : orderBy(params);
  return {
    key,
    keys: ex
      .select({ key })
      .from(clients)
      .where(where)
      .orderBy(...order)
      .limit(PAGE_SIZE)
      .offset((page - 1) * PAGE_SIZE)
      .as("page_keys"),
  };
}

async function pageRows(ex: Executor, where: SQL | undefined, params: ClientListParams, page: number): Promise<ClientRow[]> {
  const { key, keys } = pageKeys(ex, where, params, page);
  return ex
    .select({
      id: clients.id,
      name: clients.name,
      active: clients.active,
      managers: clients.managerCount,
      requests: clients.requests,
      tokens: sql<string>`${tokensExpr}::text`,
      coins: sql<string>`${clients.coinsSpent}::text`,
      createdAt: clients.createdAt,
    })
    .from(clients)
    .innerJoin(keys, eq(key, keys.key))
    .orderBy(...orderBy(params));
}

/**
 * How many rows match `where`, counted up to `limit`: the exact count when it is at most `limit`, else
 * `limit + 1` (the scan stops there).
 */
async function countUpTo(ex: Executor, where: SQL | undefined, limit: number): Promise<number> {
  const matches = ex
    .select({ one: sql<number>`1`.as("one") })
    .from(clients)
    .where(where)
    .limit(limit + 1)
    .as("matches");
  const [row] = await ex.select({ n: sql<number>`count(*)::int` }).from(matches);
  return Number(row?.n ?? 0);
}

/**
 * The Clients page: cards over every visible client, one page of the table, and the match count — exact
 * without a search, and for a search exact up to the cap (or the end of the requested page, if further).
 */
export async function listClients(
  ex: Executor,
  viewer: Viewer,
  params: ClientListParams,
  { searchCountCap = SEARCH_COUNT_CAP }: ListClientsOptions = {},
): Promise<ClientList> {
  const visible = visibleTo(viewer);
  const search = params.q ? sql`${lowerName} like lower(${likeContains(params.q)}) escape '\\'` : undefined;
  const where = and(visible, search);

  const summaryP = clientSummary(ex, viewer);
  // Counting to the end of the requested page (at least) means a count past the limit proves that page
  // is full and a next one exists; a count within it is exact, so an out-of-range page clamps as before.
  const countLimit = Math.max(searchCountCap, params.page * PAGE_SIZE);
  const totalP = search ? countUpTo(ex, where, countLimit) : summaryP.then((s) => s.totalClients);
  // The requested page is read alongside the counts (it is almost always in range); a page past the
  // end is read again once the count says where the last page is.
  const rowsP = pageRows(ex, where, params, params.page);
  const [summary, counted, requested] = await Promise.all([summaryP, totalP, rowsP]);

  if (search && counted > countLimit) {
    // More than countLimit ≥ page × PAGE_SIZE matches: the requested page is in range and not the last.
    return {
      summary,
      rows: requested,
      total: countLimit,
      totalExact: false,
      page: params.page,
      pageCount: Math.floor(countLimit / PAGE_SIZE),
      pageSize: PAGE_SIZE,
    };
  }
  const total = counted;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.min(params.page, pageCount);
  const rows = !total ? [] : page === params.page ? requested : await pageRows(ex, where, params, page);
  return { summary, rows, total, totalExact: true, page, pageCount, pageSize: PAGE_SIZE };
}

export type ClientHeader = Pick<
  typeof clients.$inferSelect,
  "id" | "name" | "active" | "createdAt" | "deactivatedAt"
>;

/** One client, only if the viewer may see it (admins: any; managers: theirs). Otherwise null (→ 404). */
export async function findVisibleClient(ex: Executor, viewer: Viewer, id: string): Promise<ClientHeader | null> {
  if (!isUuid(id)) return null;
  const [row] = await ex
    .select({
      id: clients.id,
      name: clients.name,
      active: clients.active,
      createdAt: clients.createdAt,
      deactivatedAt: clients.deactivatedAt,
    })
    .from(clients)
    .where(and(eq(clients.id, id), visibleTo(viewer)))
    .limit(1);
  return row ?? null;
}
