/**
 * Settlement (SPEC sections 5 and 6): a request that reached the upstream is recorded exactly once —
 * its reservation is replaced by the true cost, one request-log row is written and the per-client,
 * per-key, per-model and per-day counters are incremented, all in one transaction.
 */
import { sql, type SQL } from "drizzle-orm";
import { rows, type Db, type Executor } from "@/lib/db/client";
import { clearFinished, markFinished, type Admission } from "./admission";
import { normalizeCoins, parseCoins } from "./decimal";

export interface Usage {
  clientId: string;
  keyId: string | null;
  model: string;
  endpoint: string | null;
  status: number;
  inputTokens: number;
  outputTokens: number;
  /** The true cost (costOf), 6-decimal text. */
  coins: string;
  durationMs: number;
  ttftMs: number | null;
  streamed: boolean;
  /** True when the upstream reported no usage and the tokens were counted by Lumen. */
  usageEstimated: boolean;
  errorCode?: string | null;
  /** Defaults to the database clock. */
  at?: Date;
}

function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what}: expected a whole number ≥ 0, got ${value}`);
  return value;
}

const millis = (ms: number) => Math.max(0, Math.round(ms));

/**
 * Records a finished request. One SQL statement (hence one transaction, holding the hot counter rows
 * only for its own duration): the reservation row is deleted and only a reservation deleted here is
 * credited back, so a reservation the sweeper already returned is never credited twice — the pool is
 * then charged the full cost, and the request is still recorded. A second settle() of the same
 * admission does nothing.
 */
export async function settle(db: Db, admission: Admission, usage: Usage): Promise<void> {
  if (admission.kind === "reserved" && admission.clientId !== usage.clientId) {
    throw new Error("settle: the usage belongs to another client than the admission");
  }
  const inputTokens = wholeNumber(usage.inputTokens, "input tokens");
  const outputTokens = wholeNumber(usage.outputTokens, "output tokens");
  if (parseCoins(usage.coins) < 0n) throw new RangeError(`settle: negative cost ${usage.coins}`);
  const coins = sql`${normalizeCoins(usage.coins)}::numeric`;
  const at = usage.at ? sql`${usage.at.toISOString()}::timestamptz` : sql`now()`;
  const clientId = usage.clientId;

  const poolChange: SQL[] =
    admission.kind === "reserved"
      ? [
          sql`released as (delete from coin_reservations where id = ${admission.reservationId} returning amount)`,
          sql`pool as (
            update coin_pools set balance = balance + coalesce((select sum(amount) from released), 0) - ${coins}
            where client_id = ${clientId})`,
        ]
      : [];
  const keyCounters: SQL[] = usage.keyId
    ? [
        sql`api_key as (
          update api_keys set requests = requests + 1, input_tokens = input_tokens + ${inputTokens},
            output_tokens = output_tokens + ${outputTokens}, coins_spent = coins_spent + ${coins},
            last_used_at = greatest(last_used_at, ${at})
          where id = ${usage.keyId})`,
      ]
    : [];

  const steps: SQL[] = [
    ...poolChange,
    sql`logged as (
      insert into request_log (created_at, client_id, key_id, model, endpoint, status, input_tokens, output_tokens,
        coins, duration_ms, ttft_ms, streamed, usage_estimated, error_code)
      values (${at}, ${clientId}, ${usage.keyId}, ${usage.model}, ${usage.endpoint}, ${usage.status}, ${inputTokens},
        ${outputTokens}, ${coins}, ${millis(usage.durationMs)}, ${usage.ttftMs === null ? null : millis(usage.ttftMs)},
        ${usage.streamed}, ${usage.usageEstimated}, ${usage.errorCode ?? null}))`,
    sql`client as (
      update clients set requests = requests + 1, input_tokens = input_tokens + ${inputTokens},
        output_tokens = output_tokens + ${outputTokens}, coins_spent = coins_spent + ${coins},
        last_used_at = greatest(last_used_at, ${at})
      where id = ${clientId})`,
    ...keyCounters,
    sql`per_model as (
      insert into client_model_usage as u (client_id, model, requests, input_tokens, output_tokens, coins_spent, last_used_at)
      values (${clientId}, ${usage.model}, 1, ${inputTokens}, ${outputTokens}, ${coins}, ${at})
      on conflict (client_id, model) do update set requests = u.requests + 1,
        input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
        coins_spent = u.coins_spent + excluded.coins_spent, last_used_at = greatest(u.last_used_at, excluded.last_used_at))`,
    sql`per_day as (
      insert into client_daily_usage as u (client_id, day, model, requests, input_tokens, output_tokens, coins_spent)
      values (${clientId}, (${at} at time zone 'UTC')::date, ${usage.model}, 1, ${inputTokens}, ${outputTokens}, ${coins})
      on conflict (client_id, day, model) do update set requests = u.requests + 1,
        input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
        coins_spent = u.coins_spent + excluded.coins_spent)`,
  ];

  if (!markFinished(admission)) return;
  try {
    await db.execute(sql`with ${sql.join(steps, sql`, `)} select 1`);
  } catch (err) {
    clearFinished(admission);
    throw err;
  }
}

/** Counts a request refused before the upstream call (it costs nothing and writes no log row). */
export async function recordRefusal(db: Db, clientId: string): Promise<void> {
  await db.execute(sql`update clients set refusals = refusals + 1 where id = ${clientId}`);
}

export interface UsageTotals {
  requests: string;
  inputTokens: string;
  outputTokens: string;
  /** 6-decimal text. */
  coins: string;
}

export interface AccountingTotals {
  requestLog: UsageTotals;
  clients: UsageTotals;
  apiKeys: UsageTotals;
  clientModelUsage: UsageTotals;
  clientDailyUsage: UsageTotals;
}

/**
 * Σ of the request log and of every usage counter (of one client, or of all), in one statement so
 * the sums come from one snapshot. A full scan: for tests and consistency checks, not for pages.
 */
export async function accountingTotals(ex: Executor, clientId?: string): Promise<AccountingTotals> {
  const sum = (source: string, table: SQL, requests: SQL, coins: SQL, clientColumn: SQL) => sql`
    select ${source}::text as source, coalesce(sum(${requests}), 0)::text as requests,
      coalesce(sum(input_tokens), 0)::text as input_tokens, coalesce(sum(output_tokens), 0)::text as output_tokens,
      coalesce(sum(${coins}), 0)::numeric(30, 6)::text as coins
    from ${table} where ${clientId === undefined ? sql`true` : sql`${clientColumn} = ${clientId}`}`;
  const found = await rows<{ source: keyof AccountingTotals; requests: string; input_tokens: string; output_tokens: string; coins: string }>(
    ex,
    sql.join(
      [
        sum("requestLog", sql`request_log`, sql`1`, sql`coins`, sql`client_id`),
        sum("clients", sql`clients`, sql`requests`, sql`coins_spent`, sql`id`),
        sum("apiKeys", sql`api_keys`, sql`requests`, sql`coins_spent`, sql`client_id`),
        sum("clientModelUsage", sql`client_model_usage`, sql`requests`, sql`coins_spent`, sql`client_id`),
        sum("clientDailyUsage", sql`client_daily_usage`, sql`requests`, sql`coins_spent`, sql`client_id`),
      ],
      sql` union all `,
    ),
  );
  const totals = {} as AccountingTotals;
  for (const r of found) {
    totals[r.source] = { requests: r.requests, inputTokens: r.input_tokens, outputTokens: r.output_tokens, coins: r.coins };
  }
  return totals;
}
