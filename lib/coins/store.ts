/**
 * Coin pools in the database. The refill of pool.ts is applied lazily and atomically in SQL whenever
 * a pool is read, so it is correct with any number of app instances and needs no background job.
 */
import { sql, type SQL } from "drizzle-orm";
import { rows, type Executor } from "@/lib/db/client";
import { normalizeCoins } from "./decimal";
import { hasPool, type PoolConfig, type PoolState } from "./pool";

/**
 * The lazy refill as SQL over a coin_pools row (`row` is its table name or alias): whole hours since the
 * anchor (never negative: another instance's clock may be ahead). The cap applies to the client's real
 * balance — the pool's own `balance` plus the coins its leases hold (`leased`, lib/coins/lease.ts) — so
 * holding a lease never lets a refill push the client above max; a real balance already above max (max
 * lowered in config) is never lowered — with 0 hours least(max, …) could, hence the case. `balance` is
 * the pool's own balance after the refill (the leased part unchanged). Shared by readPool, admission and
 * the lease top-up so the arithmetic exists once.
 */
export function refillSql(row: SQL, at: SQL, cfg: PoolConfig): { hours: SQL; balance: SQL; anchor: SQL } {
  const max = sql`${normalizeCoins(cfg.max)}::numeric`;
  const refresh = sql`${normalizeCoins(cfg.refresh)}::numeric`;
  const hours = sql`greatest(0, floor(extract(epoch from (${at} - ${row}.refilled_at)) / 3600))::int`;
  const real = sql`(${row}.balance + ${row}.leased)`;
  return {
    hours,
    balance: sql`case when ${hours} > 0
      then greatest(${real}, least(${max}, ${real} + ${refresh} * ${hours})) - ${row}.leased else ${row}.balance end`,
    anchor: sql`${row}.refilled_at + ${hours} * interval '1 hour'`,
  };
}

/**
 * `cur`, the first CTE of every statement that takes coins from a pool (admission, lease top-up): the
 * client's pool row locked, with its refilled balance and refill anchor. SELECT … FOR UPDATE waits for
 * concurrent writers and then returns the latest committed version (the pattern for "the row before
 * the update" on PostgreSQL < 18); the statement's UPDATE reads its values from `cur`.
 */
export function lockedPoolCte(clientId: string, at: SQL, cfg: PoolConfig): SQL {
  const { balance: refilled, anchor } = refillSql(sql`p`, at, cfg);
  return sql`cur as (
          select client_id, refilled, anchor from (
            select p.client_id, ${refilled} as refilled, ${anchor} as anchor
            from coin_pools p where p.client_id = ${clientId}
            for update
          ) locked
        )`;
}

/**
 * The client's pool after refill, creating it at `starting` on first use; `balance` is the real balance:
 * the pool's own plus what its leases hold (the estimates of requests in flight are not subtracted). null when the config
 * gives no pool (max −2 unlimited, 0 blocked). `now` defaults to the database clock.
 *
 * One statement: the insert-or-update locks the row and its SET expressions read the row's latest
 * committed version, so concurrent readers credit each whole hour exactly once. Inside a
 * transaction the row stays locked until commit (admission relies on that).
 */
export async function readPool(
  ex: Executor,
  clientId: string,
  cfg: PoolConfig,
  now?: Date,
): Promise<PoolState | null> {
  if (!hasPool(cfg)) return null;
  const at = now ? sql`${now.toISOString()}::timestamptz` : sql`now()`;
  const starting = sql`${normalizeCoins(cfg.starting)}::numeric`;
  const { balance, anchor } = refillSql(sql`coin_pools`, at, cfg);
  const [row] = await rows<{ balance: string; refilled_at: string }>(
    ex,
    sql`insert into coin_pools (client_id, balance, refilled_at)
        values (${clientId}, ${starting}, ${at})
        on conflict (client_id) do update set
          balance = ${balance},
          refilled_at = ${anchor}
        returning (balance + leased)::text as balance, to_json(refilled_at)#>>'{}' as refilled_at`,
  );
  if (!row) throw new Error(`coin pool of client ${clientId} could not be read`);
  return { balance: row.balance, refilledAt: new Date(row.refilled_at) };
}
