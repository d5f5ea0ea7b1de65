import { Ban, CheckCircle2, ShieldCheck } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { LocalDate } from "@/components/clients/local-date";
import type { ModelAccessRow, ModelHealth } from "@/lib/access/client-models";
import { canViewClient } from "@/lib/auth/permissions";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import { cn } from "@/lib/utils";
import { ConsentDialog } from "./consent-dialog";
import { loadClientModelAccess } from "./load-model-access";
import type { SectionProps } from "./section-props";

/** Every model with this client's status, health and usage (SPEC section 4, "Model access"). */
export async function ModelAccessSection({ client, viewer }: SectionProps) {
  const [rows, canConsent] = await Promise.all([
    loadClientModelAccess(client.id, client.name),
    canViewClient(await getDb(), viewer, client.id),
  ]);

  return (
    <Card aria-labelledby="model-access-title" role="region">
      <CardHeader>
        <CardTitle asChild>
          <h2 id="model-access-title">Model access</h2>
        </CardTitle>
        <CardDescription>
          What this client may call, decided by config.yaml. Models that need consent can be used once a manager or an
          administrator accepts their terms.
        </CardDescription>
      </CardHeader>
      <CardContent>
        {rows.length === 0 ? (
          <p className="py-6 text-center text-sm text-muted-foreground" data-testid="models-empty">
            No models are configured yet. Add them under <code className="rounded bg-muted px-1">models:</code> in
            config.yaml.
          </p>
        ) : (
          <Table data-testid="model-access-table">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Model</TableHead>
                <TableHead scope="col">Status</TableHead>
                <TableHead scope="col">Health</TableHead>
                <TableHead scope="col" className="text-right">
                  Requests
                </TableHead>
                <TableHead scope="col" className="text-right">
                  Tokens
                </TableHead>
                <TableHead scope="col" className="text-right">
                  Coins
                </TableHead>
                <TableHead scope="col">Last used</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {rows.map((row) => (
                <TableRow key={row.name} data-testid={`model-row-${row.name}`} className={row.inConfig ? undefined : "opacity-60"}>
                  <TableCell className="font-medium break-all">{row.name}</TableCell>
                  <TableCell className="min-w-56 whitespace-normal!">
                    <div className="grid justify-items-start gap-1">
                      {row.status === "needs_consent" && canConsent ? (
                        <ConsentDialog
                          clientId={client.id}
                          clientName={client.name}
                          model={row.name}
                          ackMessage={row.ackMessage}
                        />
                      ) : (
                        <StatusBadge status={row.status} />
                      )}
                      <StatusNote row={row} />
                    </div>
                  </TableCell>
                  <TableCell>
                    <HealthLabel health={row.health} />
                  </TableCell>
                  <TableCell className="text-right tabular-nums">{formatCount(row.requests)}</TableCell>
                  <TableCell className="text-right tabular-nums">{formatCount(row.tokens)}</TableCell>
                  <TableCell className="text-right tabular-nums">{formatCoins(row.coins)}</TableCell>
                  <TableCell>
                    {row.lastUsedAt ? (
                      <LocalDate iso={row.lastUsedAt.toISOString()} withTime />
                    ) : (
                      <span className="text-muted-foreground">Never</span>
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </CardContent>
    </Card>
  );
}

function StatusBadge({ status }: { status: ModelAccessRow["status"] }) {
  switch (status) {
    case "allowed":
      return (
        <Badge variant="success">
          <CheckCircle2 aria-hidden /> Allowed
        </Badge>
      );
    case "blocked":
      return (
        <Badge variant="outline" className="border-muted-foreground/40 bg-muted text-muted-foreground">
          <Ban aria-hidden /> Blocked
        </Badge>
      );
    case "needs_consent":
      return (
        <Badge variant="outline" className="border-warning bg-warning/15 text-warning-foreground">
          Needs consent
        </Badge>
      );
    case "consented":
      return (
        <Badge variant="outline" className="border-transparent bg-blue-700 text-white">
          <ShieldCheck aria-hidden /> Consented
        </Badge>
      );
  }
}

/** Why the status is what it is, and who consented when. */
function StatusNote({ row }: { row: ModelAccessRow }) {
  const consent = row.status === "consented" ? row.consent : null;
  return (
    <p className="text-xs text-muted-foreground">
      {row.reason}
      {consent && (
        <>
          {" "}
          (by {consent.byName || consent.byEmail || "a former user"}, <LocalDate iso={consent.at.toISOString()} />)
        </>
      )}
    </p>
  );
}

const HEALTH: Record<ModelHealth, { label: string; dot: string; title: string }> = {
  ok: { label: "ok", dot: "bg-success", title: "Every endpoint is healthy" },
  degraded: { label: "degraded", dot: "bg-warning", title: "Some endpoints are not healthy" },
  down: { label: "down", dot: "bg-destructive", title: "No endpoint is healthy" },
  disabled: { label: "disabled", dot: "bg-muted-foreground", title: "Disabled in config.yaml" },
  unknown: { label: "unknown", dot: "border border-muted-foreground bg-transparent", title: "Not checked yet" },
};

function HealthLabel({ health }: { health: ModelHealth }) {
  const h = HEALTH[health];
  return (
    <span className="inline-flex items-center gap-1.5" title={h.title} data-health={health}>
      <span className={cn("size-2 rounded-full", h.dot)} aria-hidden />
      {h.label}
    </span>
  );
}
