import Link from "next/link";
import { ArrowDown, ArrowUp, ArrowUpDown, Check, X } from "lucide-react";
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

export function ClientsTable({ rows, params }: { rows: ClientRow[]; params: ClientListParams }) {
  return (
    <Table data-testid="clients-table">
      <TableHeader>
        <TableRow>
          {COLUMNS.map((c) => (
            <SortHeader key={c.key} column={c} params={params} />
          ))}
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((row) => (
          <TableRow key={row.id} data-testid="client-row" className={row.active ? undefined : "text-muted-foreground"}>
            <TableCell className="max-w-xs truncate font-medium">
              {/* a plain link: a Link (client component) per row costs render time on 50-row pages */}
              <a href={`/clients/${row.id}`} className="text-primary underline-offset-4 hover:underline">
                {row.name}
              </a>
            </TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(row.managers)}</TableCell>
            <TableCell>
              {row.active ? (
                <span role="img" aria-label="Active" title="Active">
                  <Check className="size-4 text-success" aria-hidden />
                </span>
              ) : (
                <span role="img" aria-label="Deactivated" title="Deactivated">
                  <X className="size-4 text-destructive" aria-hidden />
                </span>
              )}
            </TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(row.requests)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCount(row.tokens)}</TableCell>
            <TableCell className="text-right tabular-nums">{formatCoins(row.coins)}</TableCell>
            <TableCell className="whitespace-nowrap">
              <LocalDate iso={row.createdAt.toISOString()} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
