"use client";

import type { ReactNode } from "react";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import type { AuditAction } from "@/lib/audit/kinds";

/**
 * One activity event as the table shows it. A client component for the same reason as the requests table
 * (requests-table.tsx): 50 small objects in the RSC payload instead of every cell of 50 rows twice.
 */
export interface ActivityView {
  id: number;
  at: string;
  action: AuditAction;
  actorEmail: string | null;
  actorName: string | null;
  targetLabel: string | null;
  details: Record<string, unknown>;
  ip: string | null;
  userAgent: string | null;
}

export function ActivityTable({ rows }: { rows: ActivityView[] }) {
  return (
    <Table
      data-testid="activity-table"
      // Column styles once on the table, not on each row's cells (smaller HTML and RSC payload).
      className="[&_td]:align-top [&_td:nth-child(n+2)]:whitespace-normal [&_td:nth-child(2)]:max-w-56 [&_td:nth-child(3)]:min-w-80 [&_td:nth-child(3)]:break-words [&_td:nth-child(4)]:max-w-48 [&_td:nth-child(4)]:text-xs [&_td:nth-child(4)]:text-muted-foreground"
    >
      <TableHeader>
        <TableRow>
          <TableHead scope="col">Time</TableHead>
          <TableHead scope="col">Who</TableHead>
          <TableHead scope="col">What</TableHead>
          <TableHead scope="col">From</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((row) => (
          <TableRow key={row.id} data-testid="activity-row" data-action={row.action}>
            <TableCell>
              <LocalDate iso={row.at} precision="second" />
            </TableCell>
            <TableCell>
              <Actor row={row} />
            </TableCell>
            <TableCell>
              <Describe row={row} />
            </TableCell>
            <TableCell>
              <div>{row.ip ?? "unknown address"}</div>
              {row.userAgent && (
                <div className="truncate" title={row.userAgent}>
                  {row.userAgent}
                </div>
              )}
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function Actor({ row }: { row: ActivityView }) {
  if (!row.actorEmail && !row.actorName) return <span className="text-muted-foreground">Unknown</span>;
  return (
    <div className="grid">
      <span className="truncate font-medium">{row.actorName ?? row.actorEmail}</span>
      {row.actorName && row.actorEmail && <span className="truncate text-xs text-muted-foreground">{row.actorEmail}</span>}
    </div>
  );
}

const str = (v: unknown) => (typeof v === "string" ? v : null);
const Mono = ({ children }: { children: ReactNode }) => <span className="font-mono text-xs">{children}</span>;
const Quoted = ({ children }: { children: ReactNode }) => <span className="font-medium">“{children}”</span>;

function When({ iso }: { iso: string | null }) {
  return iso ? <LocalDate iso={iso} withTime /> : <>an unknown time</>;
}

/** One sentence per action; details as recorded (never re-read from live data, which may have changed). */
function Describe({ row }: { row: ActivityView }) {
  const d = row.details;
  const label = row.targetLabel ?? "";
  switch (row.action) {
    case "client.created":
      return <>Created the client</>;
    case "client.activated":
      return <>Activated the client</>;
    case "client.deactivated":
      return <>Deactivated the client</>;
    case "config.entry_written":
      return (
        <>
          Added the entry <Mono>{label}</Mono> to config.yaml
        </>
      );
    case "config.entry_failed":
      return (
        <>
          Could not add <Mono>{label}</Mono> to config.yaml{str(d.reason) ? `: ${str(d.reason)}` : ""}. It must be added by hand.
        </>
      );
    case "manager.added":
      return <>Added {label} as a manager</>;
    case "manager.removed":
      return <>Removed {label} as a manager</>;
    case "key.created":
      return (
        <>
          Created the key <Quoted>{label}</Quoted> (<Mono>{str(d.hint)}</Mono>),{" "}
          {str(d.expiresAt) ? (
            <>
              expiring <When iso={str(d.expiresAt)} />
            </>
          ) : (
            "never expiring"
          )}
        </>
      );
    case "key.rotated":
      return (
        <>
          Rotated the key <Quoted>{label}</Quoted>: new secret <Mono>{str(d.newHint)}</Mono>; the old{" "}
          <Mono>{str(d.oldHint)}</Mono> {d.grace === "now" ? "stopped at once" : <>works until <When iso={str(d.oldSecretValidUntil)} /></>}
        </>
      );
    case "key.grace_ended": {
      const hints = Array.isArray(d.oldHints) ? d.oldHints.filter((h): h is string => typeof h === "string") : [];
      return (
        <>
          Ended the grace of the old {hints.length === 1 ? "secret" : "secrets"} <Mono>{hints.join(", ")}</Mono> of the key{" "}
          <Quoted>{label}</Quoted>
        </>
      );
    }
    case "key.revoked":
      return (
        <>
          Revoked the key <Quoted>{label}</Quoted> (<Mono>{str(d.hint)}</Mono>)
        </>
      );
    case "consent.given": {
      const terms = str(d.terms);
      return (
        <div className="grid gap-1">
          <span>
            Accepted the terms of the model <Mono>{label}</Mono> for this client
          </span>
          {terms ? (
            <details className="text-xs">
              <summary className="cursor-pointer text-muted-foreground hover:text-foreground">Terms as shown</summary>
              <p className="mt-1 rounded-md border bg-muted/40 p-2 whitespace-pre-wrap">{terms}</p>
            </details>
          ) : (
            <span className="text-xs text-muted-foreground">The model had no acknowledgement text.</span>
          )}
        </div>
      );
    }
  }
}
