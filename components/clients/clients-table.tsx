import Link from "next/link";
import { ArrowDown, ArrowUp, ArrowUpDown } from "lucide-react";
import { Table, TableBody, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { formatCoins, formatCount } from "@/lib/format";
import { clientListHref, defaultOrder, type ClientListParams, type SortColumn } from "@/lib/clients/list-params";
import type { ClientRow } from "@/lib/clients/queries";
import { ClientRows, type ClientRowCells } from "./client-rows";
import { LinkPending } from "./link-pending";

const COLUMNS: { key: SortColumn; label: string; numeric?: boolean }[] = [
  { key: "name", label: "Name" },
  { key: "managers", label: "Managers", numeric: true },
  { key: "active", label: "Active" },
  { key: "requests", label: "Requests", numeric: true },
  { key: "tokens", label: "Tokens Used", numeric: true },
  { key: "coins", label: "Coins", numeric: true },
  { key: "created", label: "Created" },
];

function SortHeader({ column, params }: { column: (typeof COLUMNS)[number]; params: ClientListParams }) {
  const active = params.sort === column.key;
  const nextOrder = active ? (params.order === "asc" ? "desc" : "asc") : defaultOrder(column.key);
  const Icon = !active ? ArrowUpDown : params.order === "asc" ? ArrowUp : ArrowDown;
  return (
    <TableHead
      aria-sort={active ? (params.order === "asc" ? "ascending" : "descending") : "none"}
      className={column.numeric ? "text-right" : undefined}
    >
      <Link
        href={clientListHref({ sort: column.key, order: nextOrder, q: params.q })}
        scroll={false}
        prefetch={false}
        className={`inline-flex items-center gap-1 rounded-sm hover:text-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring ${
          active ? "text-foreground" : ""
        }`}
        data-testid={`sort-${column.key}`}
      >
        {column.label}
        <Icon className={`size-3.5 ${active ? "" : "opacity-40"}`} aria-hidden />
        <span className="sr-only">
          {active ? `, sorted ${params.order === "asc" ? "ascending" : "descending"}` : ""}, click to sort{" "}
          {nextOrder === "asc" ? "ascending" : "descending"}
        </span>
        <LinkPending />
      </Link>
    </TableHead>
  );
}

/**
 * Column styles, set once on the table rather than on each of the 50 rows' cells: a row's markup is the
 * table's render cost (ClientRows). The columns: name, managers, active, requests, tokens, coins, created.
 */
const COLUMN_STYLES =
  "[&_td:first-child]:max-w-xs [&_td:first-child]:truncate [&_td:first-child]:font-medium " +
  "[&_td:first-child>a]:text-primary [&_td:first-child>a]:underline-offset-4 [&_td:first-child>a:hover]:underline " +
  "[&_td:nth-child(2)]:text-right [&_td:nth-child(2)]:tabular-nums [&_td:nth-child(4)]:text-right [&_td:nth-child(4)]:tabular-nums " +
  "[&_td:nth-child(5)]:text-right [&_td:nth-child(5)]:tabular-nums [&_td:nth-child(6)]:text-right [&_td:nth-child(6)]:tabular-nums";

/** A row as the (client) row component takes it: the numbers formatted here, once. */
const cellsOf = (row: ClientRow): ClientRowCells => [
  row.id,
  row.name,
  row.active,
  formatCount(row.managers),
  formatCount(row.requests),
  formatCount(row.tokens),
  formatCoins(row.coins),
  row.createdAt.toISOString(),
];

export function ClientsTable({ rows, params }: { rows: ClientRow[]; params: ClientListParams }) {
  return (
    <Table data-testid="clients-table" className={COLUMN_STYLES}>
      <TableHeader>
        <TableRow>
          {COLUMNS.map((c) => (
            <SortHeader key={c.key} column={c} params={params} />
          ))}
        </TableRow>
      </TableHeader>
      <TableBody>
        <ClientRows rows={rows.map(cellsOf)} />
      </TableBody>
    </Table>
  );
}
