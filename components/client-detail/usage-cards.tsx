import type { ReactNode } from "react";
import { Coins, Hash, PiggyBank, RefreshCw, type LucideIcon } from "lucide-react";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { getConfig } from "@/lib/config";
import { clientEntry } from "@/lib/config/resolve";
import { poolView, type PoolView } from "@/lib/coins/pool";
import { readPool } from "@/lib/coins/store";
import { clientUsageSummary } from "@/lib/clients/usage";
import { getDb } from "@/lib/db/client";
import { formatCoins, formatCount } from "@/lib/format";
import { cn } from "@/lib/utils";
import type { SectionProps } from "./section-props";

/** A config amount without padding zeros: "0.050000" → "0.05", "1000.000000" → "1,000". */
function formatAmount(value: string): string {
  return formatCoins(value, 6).replace(/\.?0+$/, "");
}

/** Total tokens, coins spent, the coin pool and its refill (SPEC section 4, "Usage cards"). */
export async function UsageCards({ client }: SectionProps) {
  const db = await getDb();
  const cfg = clientEntry(getConfig(), client.name).pool;
  // readPool refills lazily in SQL and creates the pool at `starting` on first view.
  const [usage, state] = await Promise.all([
    clientUsageSummary(db, client.id),
    cfg ? readPool(db, client.id, cfg) : Promise.resolve(null),
  ]);
  const pool = poolView(state, cfg, new Date());
  const requests = usage?.requests ?? 0;

  return (
    <section aria-label="Usage" className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
      <UsageCard title="Total Tokens Used" icon={Hash} testId="card-total-tokens-used">
        <Value>{formatCount(usage?.tokens)}</Value>
        <Note>
          in {formatCount(requests)} request{requests === 1 ? "" : "s"}
        </Note>
      </UsageCard>
      <UsageCard title="Coins Spent" icon={Coins} testId="card-coins-spent">
        <Value>{formatCoins(usage?.coins)}</Value>
      </UsageCard>
      <UsageCard title="Coin Pool" icon={PiggyBank} testId="card-coin-pool">
        <PoolBalance pool={pool} />
      </UsageCard>
      <UsageCard title="Coin Refill" icon={RefreshCw} testId="card-coin-refill">
        <PoolRefill pool={pool} />
      </UsageCard>
    </section>
  );
}

function UsageCard(props: { title: string; icon: LucideIcon; testId: string; children: ReactNode }) {
  const Icon = props.icon;
  return (
    <Card className="gap-2 py-4" data-testid={props.testId}>
      <CardHeader className="flex flex-row items-center justify-between px-4">
        <CardTitle className="text-sm font-medium text-muted-foreground">{props.title}</CardTitle>
        <Icon className="size-4 text-muted-foreground" aria-hidden />
      </CardHeader>
      <CardContent className="grid gap-1 px-4">{props.children}</CardContent>
    </Card>
  );
}

function Value({ children, className }: { children: ReactNode; className?: string }) {
  return <p className={cn("text-2xl font-semibold tabular-nums", className)}>{children}</p>;
}

function Note({ children, className }: { children: ReactNode; className?: string }) {
  return <p className={cn("text-xs text-muted-foreground", className)}>{children}</p>;
}

function PoolBalance({ pool }: { pool: PoolView }) {
  switch (pool.kind) {
    case "unlimited":
      return (
        <>
          <Value>Unlimited</Value>
          <Note>Never refused for coins; usage is still counted.</Note>
        </>
      );
    case "blocked":
      return (
        <>
          <Value>Blocked (max 0)</Value>
          <Note>No pool: every model is refused.</Note>
        </>
      );
    case "not_configured":
      return (
        <>
          <Value>Not configured</Value>
          <Note>No max is set for this client in config.yaml.</Note>
        </>
      );
    case "pool": {
      const balance = Number(pool.balance);
      const max = Number(pool.max);
      const negative = balance < 0;
      const balanceText = formatCoins(pool.balance);
      const maxText = formatAmount(pool.max);
      return (
        <>
          <Value className={negative ? "text-destructive" : undefined}>
            {balanceText} <span className="text-sm font-normal text-muted-foreground">of {maxText}</span>
          </Value>
          <div
            role="progressbar"
            aria-label="Coin pool balance"
            aria-valuemin={0}
            aria-valuemax={max}
            aria-valuenow={Math.min(max, Math.max(0, balance))}
            aria-valuetext={`${balanceText} of ${maxText} coins`}
            className="mt-1 h-2 w-full overflow-hidden rounded-full bg-muted"
          >
            <div className="h-full rounded-full bg-primary" style={{ width: `${pool.percent}%` }} />
          </div>
          {balance <= 0 && (
            <Note className={negative ? "text-destructive" : undefined}>
              {negative ? "Overdrawn: requests" : "Empty: requests"} are refused until refills bring it above zero.
            </Note>
          )}
        </>
      );
    }
  }
}

function PoolRefill({ pool }: { pool: PoolView }) {
  switch (pool.kind) {
    case "unlimited":
      return (
        <>
          <Value>—</Value>
          <Note>Not needed: the pool is unlimited.</Note>
        </>
      );
    case "blocked":
      return (
        <>
          <Value>No refill</Value>
          <Note>The pool is blocked (max 0).</Note>
        </>
      );
    case "not_configured":
      return (
        <>
          <Value>—</Value>
          <Note>No pool is configured.</Note>
        </>
      );
    case "pool": {
      const refresh = formatAmount(pool.refreshPerHour);
      if (Number(pool.refreshPerHour) === 0) {
        return (
          <>
            <Value>No refill</Value>
            <Note>refresh is 0 in config.yaml.</Note>
          </>
        );
      }
      if (pool.nextRefillInMinutes === null) {
        return (
          <>
            <Value>Full</Value>
            <Note>+{refresh} per hour when below the max.</Note>
          </>
        );
      }
      const minutes = pool.nextRefillInMinutes;
      return (
        <>
          <Value>+{refresh} per hour</Value>
          <Note>
            next in {minutes} min
          </Note>
        </>
      );
    }
  }
}
