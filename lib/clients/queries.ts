import { isUuid } from "@/lib/ids";
import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clientManagers, clients } from "@/lib/db/schema";
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
  /** Rows matching the search (all visible clients when there is none). */
  total: number;
  page: number;
  pageCount: number;
  pageSize: number;
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

export async function clientSummary(ex: Executor, viewer: Viewer): Promise<ClientSummary> {
  const [row] = await ex
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

/** The Clients page: cards over every visible client, one page of the table, and the match count. */
export async function listClients(ex: Executor, viewer: Viewer, params: ClientListParams): Promise<ClientList> {
  const visible = visibleTo(viewer);
  const search = params.q ? sql`${lowerName} like lower(${likeContains(params.q)}) escape '\\'` : undefined;
  const where = and(visible, search);

  const summaryP = clientSummary(ex, viewer);
  const totalP = search
    ? ex
        .select({ n: sql<number>`count(*)::int` })
        .from(clients)
        .where(where)
        .then((r) => Number(r[0]?.n ?? 0))
    : summaryP.then((s) => s.totalClients);
  const [summary, total] = await Promise.all([summaryP, totalP]);

  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.min(params.page, pageCount);
  const rows = total
    ? await ex
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
        .where(where)
        .orderBy(...orderBy(params))
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    : [];
  return { summary, rows, total, page, pageCount, pageSize: PAGE_SIZE };
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
