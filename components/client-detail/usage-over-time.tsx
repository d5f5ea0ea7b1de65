import { getDb } from "@/lib/db/client";
import { clientDailyUsageSeries } from "@/lib/clients/usage-daily";
import { formatCoins, formatCount } from "@/lib/format";
import { Card, CardAction, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { ExportDialog } from "./export-dialog";
import { UsageChart } from "./usage-chart";
import type { SectionProps } from "./section-props";

export async function UsageOverTime({ client }: SectionProps) {
  const data = await clientDailyUsageSeries(await getDb(), client.id);
  const active = data.rows.filter((r) => r.requests > 0);
  return (
    <Card>
      <CardHeader>
        <CardTitle asChild>
          <h2>Usage over time</h2>
        </CardTitle>
        <CardDescription>Daily requests, tokens and coins of the last 30 days (UTC), by model.</CardDescription>
        <CardAction>
          <ExportDialog clientId={client.id} />
        </CardAction>
      </CardHeader>
      <CardContent className="space-y-4">
        {active.length === 0 ? (
          <p className="py-8 text-center text-sm text-muted-foreground" data-testid="usage-empty">
            No requests in the last 30 days.
          </p>
        ) : (
          <>
            <UsageChart data={data} />
            <details className="text-sm">
              <summary className="cursor-pointer text-muted-foreground hover:text-foreground">Show as a table</summary>
              <table className="mt-2 w-full text-sm [&_td]:px-2 [&_td]:py-1 [&_th]:px-2 [&_th]:py-1 [&_th]:text-left">
                <caption className="sr-only">Daily usage by model</caption>
                <thead>
                  <tr className="border-b">
                    <th scope="col">Day</th>
                    <th scope="col">Model</th>
                    <th scope="col" className="text-right">Requests</th>
                    <th scope="col" className="text-right">Tokens</th>
                    <th scope="col" className="text-right">Coins</th>
                  </tr>
                </thead>
                <tbody className="tabular-nums">
                  {active.map((r) => (
                    <tr key={`${r.day}/${r.model}`}>
                      <td>{r.day}</td>
                      <td>{r.model}</td>
                      <td className="text-right">{formatCount(r.requests)}</td>
                      <td className="text-right">{formatCount(r.tokens)}</td>
                      <td className="text-right">{formatCoins(r.coins)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          </>
        )}
      </CardContent>
    </Card>
  );
}
