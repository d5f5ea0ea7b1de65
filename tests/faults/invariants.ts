/**
 * What must hold after every fault scenario, read straight from the database:
 *
 *   Σ request_log = clients counters = Σ api_keys = Σ client_model_usage = Σ client_daily_usage
 *   pool balance = starting + refills − Σ log coins − open reservations   (refills are 0: the pool
 *                  is seeded with refresh 0, and a test never spans a whole hour); the pool balance is
 *                  the real one, coin_pools.balance + the coins its leases hold (= Σ coin_leases)
 *   no reservation left once everything settled (or was swept)
 *   answers delivered complete with 200 = log rows with status 200, billed what they delivered
 *
 * The database is read with a small connection of its own (no migrations), opened per read, so a
 * read after a database outage or a server kill starts clean.
 */
import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { expect } from "vitest";
import * as schema from "@/lib/db/schema";
import type { Db } from "@/lib/db/client";
import type { ModelConfig } from "@/lib/config/schema";
import { accountingTotals, leaseMismatches, type AccountingTotals } from "@/lib/coins/audit";
import { costOf, DEFAULT_MAX_OUTPUT_TOKENS } from "@/lib/coins/cost";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { estimatePromptTokens } from "@/lib/gateway/tokens";
import { messagesOf, type Answer } from "./client";
import { PRICES, STARTING_BALANCE } from "./harness";

export interface Ledger {
  totals: AccountingTotals;
  /** The real balance: the pool's own plus what its leases hold. */
  balance: string;
  /** Coins held by leases (coin_pools.leased) and clients whose leased ≠ Σ coin_leases (must be none). */
  leased: string;
  leaseMismatches: number;
  openReservations: number;
  reservedAmount: string;
  logRows: number;
  logCoins: string;
  log200: number;
  log200Coins: string;
  log200OutputTokens: number;
  byStatus: Record<string, number>;
  /** request_log.request_id of every row, or null when the column does not exist (yet). */
  requestIds: Array<{ requestId: string | null; status: number }> | null;
  /** request_log.settlement_id values that occur more than once (null: no such column). */
  duplicateSettlementIds: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withDb<T>(url: string, fn: (db: Db, sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await fn(drizzle(sql, { schema }) as unknown as Db, sql);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export async function readLedger(url: string, clientId: string): Promise<Ledger> {
  return withDb(url, async (db, sql) => {
    const totals = await accountingTotals(db, clientId);
    const [pool] = await sql`select (balance + leased)::text as balance, leased::text as leased from coin_pools where client_id = ${clientId}`;
    const mismatches = (await leaseMismatches(db, clientId)).length;
    const [res] = await sql`select count(*)::int as n, coalesce(sum(amount), 0)::numeric(30, 6)::text as amount
                            from coin_reservations where client_id = ${clientId}`;
    const statuses = await sql`select status, count(*)::int as n, coalesce(sum(coins), 0)::numeric(30, 6)::text as coins,
                                 coalesce(sum(output_tokens), 0)::int as output
                               from request_log where client_id = ${clientId} group by status`;
    const columns = new Set(
      (await sql`select column_name from information_schema.columns where table_name = 'request_log'`).map((r) => r.column_name as string),
    );
    const requestIds = columns.has("request_id")
      ? (await sql`select request_id, status from request_log where client_id = ${clientId}`).map((r) => ({
          requestId: r.request_id as string | null,
          status: Number(r.status),
        }))
      : null;
    const duplicateSettlementIds = columns.has("settlement_id")
      ? Number((await sql`select count(*)::int as n from (select settlement_id from request_log group by settlement_id having count(*) > 1) d`)[0]!.n)
      : null;
    const byStatus: Record<string, number> = {};
    let logRows = 0;
    let logCoins = 0n;
    for (const s of statuses) {
      byStatus[String(s.status)] = Number(s.n);
      logRows += Number(s.n);
      logCoins += parseCoins(String(s.coins));
    }
    const ok = statuses.find((s) => Number(s.status) === 200);
    return {
      totals,
      balance: String(pool?.balance ?? "missing"),
      leased: String(pool?.leased ?? "missing"),
      leaseMismatches: mismatches,
      openReservations: Number(res!.n),
      reservedAmount: String(res!.amount),
      logRows,
      logCoins: formatMicro(logCoins),
      log200: Number(ok?.n ?? 0),
      log200Coins: formatMicro(parseCoins(String(ok?.coins ?? "0"))),
      log200OutputTokens: Number(ok?.output ?? 0),
      byStatus,
      requestIds,
      duplicateSettlementIds,
    };
  });
}

/**
 * Polls (every 100 ms, ≤ timeoutMs) until no reservation is open, the log has stopped growing over
 * three reads and `until` holds; returns the last ledger either way (the assertions then report).
 */
export async function waitSettled(
  url: string,
  clientId: string,
  opts: { timeoutMs?: number; until?: (l: Ledger) => boolean } = {},
): Promise<Ledger> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last = await readLedger(url, clientId);
  let stable = 0;
  while (Date.now() < deadline) {
    await sleep(100);
    const next = await readLedger(url, clientId).catch(() => null);
    if (!next) continue;
    stable = next.logRows === last.logRows ? stable + 1 : 0;
    last = next;
    if (next.openReservations === 0 && stable >= 3 && (opts.until?.(next) ?? true)) break;
  }
  return last;
}

/** The model config costOf needs (every scripted model has the same prices unless a test changes them). */
export const priced = (prices = PRICES) =>
  ({ input_cost_per_million: prices.input, output_cost_per_million: prices.output }) as ModelConfig;

/**
 * What a delivered answer must cost: the usage the caller saw, else Lumen's own count — its prompt
 * estimate and the tokens delivered — with the output never above the limit Lumen sent (max_tokens,
 * else 4,096 for the scripted models, × n: README "Overspend, bounded by construction"). (Tests ask
 * streams for include_usage, so a caller sees the usage whenever Lumen had it.)
 */
export function expectedBill(a: Answer, prices = PRICES): string {
  const input = a.usage?.prompt ?? estimatePromptTokens(messagesOf(a.prompt));
  const limit = (a.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS) * (a.n ?? 1);
  const output = Math.min(a.usage?.completion ?? a.tokens, limit);
  return costOf(priced(prices), input, output);
}

export const sumCoins = (values: readonly string[]) => formatMicro(values.reduce((t, v) => t + parseCoins(v), 0n));

export interface InvariantOptions {
  /** Every answer the test's callers got. */
  answers: readonly Answer[];
  /** Open reservations allowed (0 after settle/sweep). */
  openReservations?: number;
  /** Also require Σ coins of the 200 rows = Σ expectedBill of the complete answers (fixed prices only). */
  exactBills?: boolean;
  /** Log rows with 200 may be fewer than delivered; never more. */
  allowLost200?: boolean;
  /**
   * The server was killed (SIGKILL) mid-burst: an answer whose settlement committed in the instant
   * before the kill, but whose last bytes never left, is logged with 200 although the caller did not
   * receive it complete. Such rows are allowed — each must be one of the answers the kill cut (by
   * request id, so every call needs one) — and every delivered answer must still be logged once.
   */
  killed?: boolean;
  /** Earlier answers of the same database (cumulative ledgers). */
  before?: readonly Answer[];
}

/**
 * Asserts the ledger equations; `label` names the scenario in failure messages. Soft assertions:
 * a failing run reports every broken equation with its numbers, not only the first.
 */
export function assertInvariants(label: string, l: Ledger, o: InvariantOptions): void {
  const all = [...(o.before ?? []), ...o.answers];
  const delivered = all.filter((a) => a.complete);
  const t = l.totals;
  // Σ log = client = Σ keys = Σ models = Σ days, on every counter.
  expect.soft(t.clients, `${label}: clients counters = Σ request_log`).toEqual(t.requestLog);
  expect.soft(t.apiKeys, `${label}: Σ api_keys = Σ request_log`).toEqual(t.requestLog);
  expect.soft(t.clientModelUsage, `${label}: Σ client_model_usage = Σ request_log`).toEqual(t.requestLog);
  expect.soft(t.clientDailyUsage, `${label}: Σ client_daily_usage = Σ request_log`).toEqual(t.requestLog);
  // pool = starting + refills (0) − Σ log − open reservations
  const expectedBalance = formatMicro(parseCoins(STARTING_BALANCE) - parseCoins(l.logCoins) - parseCoins(l.reservedAmount));
  expect.soft(l.balance, `${label}: pool = starting − Σ log coins (${l.logCoins}) − reserved (${l.reservedAmount})`).toBe(expectedBalance);
  expect.soft(l.openReservations, `${label}: open reservations`).toBe(o.openReservations ?? 0);
  expect.soft(l.leaseMismatches, `${label}: coin_pools.leased = Σ coin_leases.amount`).toBe(0);
  // answers delivered with 200 = log rows with 200 (+ the answers the kill cut after their commit)
  if (o.killed) {
    const cut = new Set(all.filter((a) => !a.complete && a.requestId).map((a) => a.requestId));
    const cutLogged = (l.requestIds ?? []).filter((r) => r.status === 200 && r.requestId && cut.has(r.requestId)).length;
    expect.soft(l.log200 - cutLogged, `${label}: log rows with 200 (less ${cutLogged} cut by the kill after their commit) = answers delivered`).toBe(delivered.length);
  } else if (o.allowLost200) expect.soft(l.log200, `${label}: log rows with 200 ≤ answers delivered`).toBeLessThanOrEqual(delivered.length);
  else expect.soft(l.log200, `${label}: log rows with 200 = answers delivered complete with 200`).toBe(delivered.length);
  if (o.exactBills) {
    expect.soft(l.log200Coins, `${label}: Σ coins of 200 rows = Σ bills of delivered answers`).toBe(sumCoins(delivered.map((a) => expectedBill(a))));
  }
  if (l.duplicateSettlementIds !== null) expect.soft(l.duplicateSettlementIds, `${label}: duplicate settlement_id`).toBe(0);
  if (l.requestIds !== null) {
    // With request ids, "billed once" is checked per answer, not only in total.
    const logged200 = new Map<string, number>();
    for (const r of l.requestIds) if (r.status === 200 && r.requestId) logged200.set(r.requestId, (logged200.get(r.requestId) ?? 0) + 1);
    const missing = delivered.filter((a) => a.requestId && logged200.get(a.requestId) !== 1);
    if (!o.allowLost200) expect.soft(missing.map((a) => a.requestId), `${label}: delivered answers not logged exactly once`).toEqual([]);
    const deliveredIds = new Set(delivered.map((a) => a.requestId));
    const cutIds = new Set(o.killed ? all.filter((a) => !a.complete).map((a) => a.requestId) : []);
    const phantom = [...logged200.entries()].filter(([id, n]) => n !== 1 || !(deliveredIds.has(id) || cutIds.has(id)));
    expect.soft(phantom, `${label}: 200 rows that are not one delivered answer`).toEqual([]);
  }
}

export interface LogRow {
  id: number;
  status: number;
  inputTokens: number;
  outputTokens: number;
  coins: string;
  errorCode: string | null;
  usageEstimated: boolean;
  streamed: boolean;
}

/** The client's request-log rows with id > afterId, in order. */
export async function logRowsAfter(url: string, clientId: string, afterId = 0): Promise<LogRow[]> {
  return withDb(url, async (_db, sql) =>
    (
      await sql`select id::int as id, status, input_tokens, output_tokens, coins::text as coins, error_code, usage_estimated, streamed
                from request_log where client_id = ${clientId} and id > ${afterId} order by id`
    ).map((r) => ({
      id: Number(r.id),
      status: Number(r.status),
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      coins: String(r.coins),
      errorCode: (r.error_code as string | null) ?? null,
      usageEstimated: Boolean(r.usage_estimated),
      streamed: Boolean(r.streamed),
    })),
  );
}

/** One line for the report: the numbers behind the assertions. */
export function describeLedger(l: Ledger): string {
  return `log rows ${l.logRows} (by status ${JSON.stringify(l.byStatus)}), Σ coins ${l.logCoins}, 200 rows ${l.log200} (${l.log200Coins} coins), balance ${l.balance} (${l.leased} in leases), open reservations ${l.openReservations} (${l.reservedAmount})`;
}
