import Link from "next/link";
import { ArrowDown, ArrowUp, ArrowUpDown } from "lucide-react";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { formatCoins, formatCount } from "@/lib/format";
import { clientListHref, defaultOrder, type ClientListParams, type SortColumn } from "@/lib/clients/list-params";
import type { ClientRow } from "@/lib/clients/queries";
import { LocalDate } from "./local-date";
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
 * Column styles, set once on the table rather than on each of the 50 rows' cells: every prop of a row is
 * serialized into the RSC payload, parsed again for the HTML and sent twice (markup and payload), so a row's
 * size is the table's render cost. The columns: name, managers, active, requests, tokens, coins, created.
 */
const COLUMN_STYLES =
  "[&_td:first-child]:max-w-xs [&_td:first-child]:truncate [&_td:first-child]:font-medium " +
  "[&_td:first-child>a]:text-primary [&_td:first-child>a]:underline-offset-4 [&_td:first-child>a:hover]:underline " +
  "[&_td:nth-child(2)]:text-right [&_td:nth-child(2)]:tabular-nums [&_td:nth-child(4)]:text-right [&_td:nth-child(4)]:tabular-nums " +
  "[&_td:nth-child(5)]:text-right [&_td:nth-child(5)]:tabular-nums [&_td:nth-child(6)]:text-right [&_td:nth-child(6)]:tabular-nums";

const inactiveRow = { className: "text-muted-foreground" };

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
        {rows.map((row) => (
          <TableRow key={row.id} data-testid="client-row" {...(row.active ? null : inactiveRow)}>
            {/* a plain link: a Link (client component) per row costs render time on 50-row pages */}
            <TableCell>
              <a href={`/clients/${row.id}`}>{row.name}</a>
            </TableCell>
            <TableCell>{formatCount(row.managers)}</TableCell>
            <TableCell>
              {/* the check and cross are CSS masks (globals.css): no inline SVG per row */}
              {row.active ? (
                <span role="img" aria-label="Active" title="Active" className="icon-check text-success" />
              ) : (
                <span role="img" aria-label="Deactivated" title="Deactivated" className="icon-x text-destructive" />
              )}
            </TableCell>
            <TableCell>{formatCount(row.requests)}</TableCell>
            <TableCell>{formatCount(row.tokens)}</TableCell>
            <TableCell>{formatCoins(row.coins)}</TableCell>
            <TableCell>
              <LocalDate iso={row.createdAt.toISOString()} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
