/**
 * The accounting audit (SPEC §5 "Accounting"): every usage counter must add up to the request log —
 *
 *   Σ request_log = Σ clients = Σ api_keys (rows with a key) = Σ client_model_usage = Σ client_daily_usage
 *
 * and, over the whole database, Σ client_totals (the maintained totals of the summary cards) = Σ clients.
 *
 * for requests, input and output tokens, coins and audio seconds. "The log" is its whole history: the
 * rows still kept plus the sums of the monthly partitions retention dropped (request_log_dropped, written
 * in the dropping transaction by lib/db/partitions.ts), so the equation stays exact after a drop. Used by
 * the seed's verification, the benches and the tests; a full scan of the log, so never by a page.
 */
import { sql, type SQL } from "drizzle-orm";
import { rows, type Executor } from "@/lib/db/client";

export interface UsageTotals {
  requests: string;
  inputTokens: string;
  outputTokens: string;
  /** 6-decimal text. */
  coins: string;
  /** 3-decimal text. */
  audioSeconds: string;
}

export interface AccountingTotals {
  /** The log's whole history: its rows plus what retention dropped. */
  requestLog: UsageTotals;
  /** Log rows that carry a key (the API-key counters add up to these). */
  requestLogWithKey: UsageTotals;
  clients: UsageTotals;
  apiKeys: UsageTotals;
  clientModelUsage: UsageTotals;
  clientDailyUsage: UsageTotals;
  /** Σ of the maintained client_totals shards; only when the whole database is audited. */
  clientTotals?: UsageTotals;
}

/**
 * Σ of the request log and of every usage counter (of one client, or of all), in one statement so
 * the sums come from one snapshot.
 */
export async function accountingTotals(ex: Executor, clientId?: string): Promise<AccountingTotals> {
  const sum = (source: keyof AccountingTotals, table: SQL, requests: SQL, coins: SQL, clientColumn: SQL, where: SQL = sql`true`) => sql`
    select ${source}::text as source, coalesce(sum(${requests}), 0)::text as requests,
      coalesce(sum(input_tokens), 0)::text as input_tokens, coalesce(sum(output_tokens), 0)::text as output_tokens,
      coalesce(sum(${coins}), 0)::numeric(30, 6)::text as coins,
      coalesce(sum(audio_seconds), 0)::numeric(30, 3)::text as audio_seconds
    from ${table} where ${where} and ${clientId === undefined ? sql`true` : sql`${clientColumn} = ${clientId}`}`;
  const history = sql`(select client_id, key_id, 1 as requests, input_tokens, output_tokens, coins, audio_seconds from request_log
    union all select client_id, key_id, requests, input_tokens, output_tokens, coins_spent, audio_seconds from request_log_dropped) log`;
  const found = await rows<{
    source: keyof AccountingTotals;
    requests: string;
    input_tokens: string;
    output_tokens: string;
    coins: string;
    audio_seconds: string;
  }>(
    ex,
    sql.join(
      [
        sum("requestLog", history, sql`requests`, sql`coins`, sql`client_id`),
        sum("requestLogWithKey", history, sql`requests`, sql`coins`, sql`client_id`, sql`key_id is not null`),
        sum("clients", sql`clients`, sql`requests`, sql`coins_spent`, sql`id`),
        sum("apiKeys", sql`api_keys`, sql`requests`, sql`coins_spent`, sql`client_id`),
        sum("clientModelUsage", sql`client_model_usage`, sql`requests`, sql`coins_spent`, sql`client_id`),
        sum("clientDailyUsage", sql`client_daily_usage`, sql`requests`, sql`coins_spent`, sql`client_id`),
        ...(clientId === undefined ? [sum("clientTotals", sql`client_totals`, sql`requests`, sql`coins_spent`, sql`null`)] : []),
      ],
      sql` union all `,
    ),
  );
  const totals = {} as AccountingTotals;
  for (const r of found) {
    totals[r.source] = {
      requests: r.requests,
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      coins: r.coins,
      audioSeconds: r.audio_seconds,
    };
  }
  return totals;
}

const sameTotals = (a: UsageTotals, b: UsageTotals) =>
  a.requests === b.requests &&
  a.inputTokens === b.inputTokens &&
  a.outputTokens === b.outputTokens &&
  a.coins === b.coins &&
  a.audioSeconds === b.audioSeconds;

/** Names of the counter tables that disagree with the request log (empty when all agree). */
export function accountingMismatches(t: AccountingTotals): string[] {
  const bad: string[] = [];
  if (!sameTotals(t.clients, t.requestLog)) bad.push("clients");
  if (!sameTotals(t.apiKeys, t.requestLogWithKey)) bad.push("api_keys");
  if (!sameTotals(t.clientModelUsage, t.requestLog)) bad.push("client_model_usage");
  if (!sameTotals(t.clientDailyUsage, t.requestLog)) bad.push("client_daily_usage");
  if (t.clientTotals && !sameTotals(t.clientTotals, t.clients)) bad.push("client_totals");
  return bad;
}

/**
 * The lease half of the pool equation: coin_pools.leased must equal Σ coin_leases.amount of its
 * client (lease-sql.ts changes both in one statement). Returns the clients where they differ (of one
 * client, or of all), in one statement; the real balance of a pool is balance + leased.
 */
export async function leaseMismatches(ex: Executor, clientId?: string): Promise<Array<{ clientId: string; leased: string; leases: string }>> {
  const found = await rows<{ client_id: string; leased: string; leases: string }>(
    ex,
    sql`select p.client_id, p.leased::text as leased, coalesce(l.amount, 0)::numeric(30, 6)::text as leases
        from coin_pools p left join (select client_id, sum(amount) as amount from coin_leases group by client_id) l on l.client_id = p.client_id
        where p.leased <> coalesce(l.amount, 0) and ${clientId === undefined ? sql`true` : sql`p.client_id = ${clientId}`}
        union all
        select l.client_id, '0', sum(l.amount)::numeric(30, 6)::text from coin_leases l
        where not exists (select 1 from coin_pools p where p.client_id = l.client_id)
          and ${clientId === undefined ? sql`true` : sql`l.client_id = ${clientId}`}
        group by l.client_id`,
  );
  return found.map((r) => ({ clientId: r.client_id, leased: r.leased, leases: r.leases }));
}
