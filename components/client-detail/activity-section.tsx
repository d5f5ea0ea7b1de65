import Link from "next/link";
import type { ReactNode } from "react";
import { History } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import { ACTIVITY_PAGE, listActivity, parseActivityParams, type ActivityRow } from "@/lib/audit/queries";
import { getDb } from "@/lib/db/client";
import { formatCount } from "@/lib/format";
import type { SectionProps } from "./section-props";
import { ActivityFilter } from "./activity-filter";

/** Every console change to this client, from the append-only activity trail (newest first, 50 a page). */
export async function ActivitySection({ client, searchParams }: SectionProps) {
  const params = parseActivityParams(searchParams);
  const { rows, hasOlder } = await listActivity(await getDb(), client.id, params);
  const pageHref = (p: number) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(searchParams)) if (typeof v === "string" && k !== "activity_page") sp.set(k, v);
    if (p > 1) sp.set("activity_page", String(p));
    const qs = sp.toString();
    return `/clients/${client.id}${qs ? `?${qs}` : ""}#activity-title`;
  };
  const first = (params.page - 1) * ACTIVITY_PAGE + 1;
  return (
    <ActivityCard>
      <ActivityFilter kind={params.kind} />
      {rows.length === 0 ? (
        <div
          className="flex flex-col items-center gap-2 rounded-lg border border-dashed px-4 py-8 text-center text-sm text-muted-foreground"
          data-testid="activity-empty"
        >
          <History className="size-6" aria-hidden />
          <p>{params.kind || params.page > 1 ? "No activity of this kind." : "No activity recorded yet."}</p>
        </div>
      ) : (
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
                  <LocalDate iso={row.createdAt.toISOString()} precision="second" />
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
      )}
      {(params.page > 1 || hasOlder) && (
        <nav aria-label="Activity pages" className="flex items-center justify-between gap-2 text-sm">
          <span className="text-muted-foreground">
            Events {formatCount(first)}–{formatCount(first + rows.length - 1)}, newest first
          </span>
          <span className="flex gap-2">
            {params.page > 1 && (
              <Button asChild variant="outline" size="sm">
                <Link href={pageHref(params.page - 1)} prefetch={false} scroll={false}>
                  Newer
                </Link>
              </Button>
            )}
            {hasOlder && (
              <Button asChild variant="outline" size="sm">
                <Link href={pageHref(params.page + 1)} prefetch={false} scroll={false} data-testid="activity-older">
                  Older
                </Link>
              </Button>
            )}
          </span>
        </nav>
      )}
    </ActivityCard>
  );
}

function ActivityCard({ children }: { children: ReactNode }) {
  return (
    <Card aria-labelledby="activity-title" role="region" data-testid="activity-section">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="activity-title">Activity</h2>
        </CardTitle>
        <CardDescription>
          Who changed what for this client, and from where. Recorded with every change and never edited.
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">{children}</CardContent>
    </Card>
  );
}

function Actor({ row }: { row: ActivityRow }) {
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
function Describe({ row }: { row: ActivityRow }) {
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
