import { eq, sql } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";

export interface ClientUsageSummary {
  requests: number;
  /** Input + output tokens, as text (a bigint sum). */
  tokens: string;
  /** Coins spent, 6-decimal text. */
  coins: string;
  /** Seconds of audio transcribed or translated, 3-decimal text. */
  audioSeconds: string;
  lastUsedAt: Date | null;
}

/** The usage cards' totals, read from the client's counters (kept in step with the request log). */
export async function clientUsageSummary(ex: Executor, clientId: string): Promise<ClientUsageSummary | null> {
  const [row] = await ex
    .select({
      requests: clients.requests,
      tokens: sql<string>`(${clients.inputTokens} + ${clients.outputTokens})::text`,
      coins: sql<string>`${clients.coinsSpent}::text`,
      audioSeconds: sql<string>`${clients.audioSeconds}::text`,
      lastUsedAt: clients.lastUsedAt,
    })
    .from(clients)
    .where(eq(clients.id, clientId))
    .limit(1);
  return row ? { ...row, requests: Number(row.requests) } : null;
}
