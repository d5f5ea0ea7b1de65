"use client";

import { useMemo, useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { DailyUsage } from "@/lib/clients/usage-daily";
import { cn } from "@/lib/utils";

const METRICS = [
  { key: "requests", label: "Requests" },
  { key: "tokens", label: "Tokens" },
  { key: "coins", label: "Coins" },
] as const;
type Metric = (typeof METRICS)[number]["key"];

const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** Daily usage of the last 30 days, stacked by model. The server renders a table version next to it. */
export function UsageChart({ data }: { data: DailyUsage }) {
  const [metric, setMetric] = useState<Metric>("requests");
  const series = useMemo(() => {
    const byDay = new Map<string, Record<string, number | string>>(data.days.map((d) => [d, { day: d.slice(5) }]));
    for (const r of data.rows) {
      const entry = byDay.get(r.day);
      if (!entry) continue;
      // Coins are exact strings; the chart only needs their approximate height.
      entry[r.model] = metric === "coins" ? Number(r.coins) : r[metric];
    }
    return [...byDay.values()];
  }, [data, metric]);

  return (
    <div className="space-y-3">
      <div role="group" aria-label="Metric" className="inline-flex rounded-md border p-0.5">
        {METRICS.map((m) => (
          <button
            key={m.key}
            type="button"
            aria-pressed={metric === m.key}
            onClick={() => setMetric(m.key)}
            className={cn(
              "rounded-sm px-3 py-1 text-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none",
              metric === m.key ? "bg-primary text-primary-foreground" : "text-muted-foreground hover:text-foreground",
            )}
          >
            {m.label}
          </button>
        ))}
      </div>
      <div className="h-64 w-full" aria-hidden>
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={series} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid vertical={false} strokeDasharray="3 3" />
            <XAxis dataKey="day" tickLine={false} axisLine={false} fontSize={12} interval="preserveStartEnd" />
            <YAxis tickLine={false} axisLine={false} fontSize={12} width={56} tickFormatter={(v: number) => numberFormat.format(v)} />
            <Tooltip formatter={(v) => numberFormat.format(Number(v))} />
            <Legend wrapperStyle={{ fontSize: 12 }} />
            {data.models.map((model, i) => (
              <Bar key={model} dataKey={model} stackId="usage" fill={PALETTE[i % PALETTE.length]} isAnimationActive={false} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
    </div>
  );
}
