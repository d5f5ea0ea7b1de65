import { Activity, Coins, Hash, Users } from "lucide-react";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { formatCoins, formatCount } from "@/lib/format";
import type { ClientSummary } from "@/lib/clients/queries";

export function SummaryCards({ summary }: { summary: ClientSummary }) {
  const cards = [
    { title: "Total Clients", value: formatCount(summary.totalClients), icon: Users },
    { title: "Total Requests", value: formatCount(summary.totalRequests), icon: Activity },
    { title: "Total Tokens Used", value: formatCount(summary.totalTokens), icon: Hash },
    { title: "Coins Spent", value: formatCoins(summary.coinsSpent), icon: Coins },
  ];
  return (
    <section aria-label="Summary" className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
      {cards.map(({ title, value, icon: Icon }) => (
        <Card key={title} className="gap-2 py-4">
          <CardHeader className="flex flex-row items-center justify-between px-4">
            <CardTitle className="text-sm font-medium text-muted-foreground">{title}</CardTitle>
            <Icon className="size-4 text-muted-foreground" aria-hidden />
          </CardHeader>
          <CardContent className="px-4">
            <p className="text-2xl font-semibold tabular-nums" data-testid={`card-${title.toLowerCase().replace(/ /g, "-")}`}>
              {value}
            </p>
          </CardContent>
        </Card>
      ))}
    </section>
  );
}
