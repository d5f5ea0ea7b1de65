import { and, asc, eq, gte, sql } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clientDailyUsage } from "@/lib/db/schema";

export interface DailyUsageRow {
  day: string; // YYYY-MM-DD (UTC)
  model: string;
  requests: number;
  tokens: number;
  coins: string;
}

export interface DailyUsage {
  days: string[];
  models: string[];
  rows: DailyUsageRow[];
}

const DAY_MS = 86_400_000;

/**
 * The last `days` UTC days of a client's usage per model, from the daily rollup written with every
 * request-log row: at most days × models rows, however long the log is.
 */
export async function clientDailyUsageSeries(ex: Executor, clientId: string, days = 30, now = new Date()): Promise<DailyUsage> {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const from = new Date(today - (days - 1) * DAY_MS).toISOString().slice(0, 10);
  const rows = await ex
    .select({
      day: sql<string>`${clientDailyUsage.day}::text`,
      model: clientDailyUsage.model,
      requests: clientDailyUsage.requests,
      tokens: sql<number>`(${clientDailyUsage.inputTokens} + ${clientDailyUsage.outputTokens})::float8`,
      coins: sql<string>`${clientDailyUsage.coinsSpent}::text`,
    })
    .from(clientDailyUsage)
    .where(and(eq(clientDailyUsage.clientId, clientId), gte(clientDailyUsage.day, from)))
    .orderBy(asc(clientDailyUsage.day), asc(clientDailyUsage.model));
  const dayList = Array.from({ length: days }, (_, i) => new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10));
  const models = [...new Set(rows.map((r) => r.model))].sort();
  return { days: dayList, models, rows: rows.map((r) => ({ ...r, requests: Number(r.requests), tokens: Number(r.tokens) })) };
}
