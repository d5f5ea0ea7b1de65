import { z } from "zod";
import { formatCount } from "@/lib/format";

export const SORT_COLUMNS = ["name", "managers", "active", "requests", "tokens", "coins", "created"] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];
export type SortOrder = "asc" | "desc";
export const PAGE_SIZE = 50;

/** Text columns start ascending; numbers, flags and dates start descending (largest / newest first). */
export function defaultOrder(column: SortColumn): SortOrder {
  return column === "name" ? "asc" : "desc";
}

export interface ClientListParams {
  sort: SortColumn;
  order: SortOrder;
  q: string;
  page: number;
}

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** Reads `?sort=&order=&q=&page=`; anything invalid falls back to its default instead of failing. */
export function parseClientListParams(input: Record<string, string | string[] | undefined>): ClientListParams {
  const sort = z.enum(SORT_COLUMNS).catch("name").parse(first(input.sort));
  const order = z.enum(["asc", "desc"]).catch(defaultOrder(sort)).parse(first(input.order) ?? defaultOrder(sort));
  const q = z
    .string()
    .catch("")
    .transform((s) => s.normalize("NFC").trim().slice(0, 100))
    .parse(first(input.q) ?? "");
  const page = z.coerce.number().int().min(1).max(1_000_000).catch(1).parse(first(input.page) ?? 1);
  return { sort, order, q, page };
}

/** Query string for a view; omits defaults so links stay short. */
export function clientListHref(params: Partial<ClientListParams>): string {
  const sp = new URLSearchParams();
  if (params.sort && params.sort !== "name") sp.set("sort", params.sort);
  if (params.order && params.sort && params.order !== defaultOrder(params.sort)) sp.set("order", params.order);
  else if (params.order && !params.sort && params.order !== "asc") sp.set("order", params.order);
  if (params.q) sp.set("q", params.q);
  if (params.page && params.page > 1) sp.set("page", String(params.page));
  const s = sp.toString();
  return s ? `/clients?${s}` : "/clients";
}

export interface PageInfo {
  page: number;
  pageCount: number;
  pageSize: number;
  total: number;
  /** False when `total` and `pageCount` are lower bounds (a search counted up to its cap). */
  totalExact: boolean;
}

/**
 * The pagination texts: "Showing 1–50 of 1,234" and "Page 1 of 25"; when a search's count stopped at its
 * cap, "Showing 1–50 of more than 1,000" and "Page 1 of more than 20". `hasNext`: a next page exists.
 */
export function pagingTexts({ page, pageCount, pageSize, total, totalExact }: PageInfo) {
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  const of = totalExact ? "of" : "of more than";
  return {
    showing: `Showing ${formatCount(from)}–${formatCount(to)} ${of} ${formatCount(total)}`,
    pageOf: `Page ${formatCount(page)} ${of} ${formatCount(pageCount)}`,
    hasNext: page < pageCount || !totalExact,
  };
}
