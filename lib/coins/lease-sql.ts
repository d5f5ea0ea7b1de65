/**
 * The statements of coin leases (lease.ts keeps the in-memory side). Each is ONE statement, so it is
 * atomic with any number of concurrent callers and instances.
 *
 * Lock order, the same in every statement that touches money (so none of them can deadlock with
 * another): coin_reservations rows, then coin_pools rows in client order, then coin_leases rows in
 * (client, holder) order. A statement that locks pools first forces it with an InitPlan
 * (`(select count(*) from locked) >= 0`), which runs before the scan it guards yields any row.
 *
 * coin_pools.leased is Σ coin_leases.amount of the client, changed in the same statement as the lease,
 * so the real balance (balance + leased) and the refill cap are read from the locked pool row alone.
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { rows, type Db, type Executor } from "@/lib/db/client";
import { normalizeCoins } from "./decimal";
import type { PoolConfig } from "./pool";
import { lockedPoolCte } from "./store";

export interface TopUpResult {
  leaseId: string;
  /** The lease's amount after the top-up (coins held and not yet charged), 6-decimal text. */
  amount: string;
  /** What this top-up took from the pool, 6-decimal text (0 when the refilled pool was ≤ 0). */
  taken: string;
  /** Seconds to the next whole-hour refill (for Retry-After). */
  nextRefillSeconds: number;
}

interface TopUpRow {
  lease_id: string | null;
  amount: string | null;
  taken: string;
  next_refill_s: number | string;
}

/** A hold in seconds as an interval (coin_leases.hold). */
const holdInterval = (holdSeconds: number) => sql`${holdSeconds}::float8 * interval '1 second'`;

/**
 * Applies the refill and moves min(want, refilled balance) — while that balance is above zero — from
 * the client's pool into this holder's lease (created on first use), extending its expiry to now +
 * ttl and its hold to at least `holdSeconds`. null when the client has no pool row yet (the caller
 * creates it, as admission does). `leaseId` is null when no lease exists and nothing could be taken.
 */
export async function topUpLease(
  db: Db,
  input: { clientId: string; holder: string; pool: PoolConfig; want: string; ttlSeconds: number; holdSeconds: number },
): Promise<(Omit<TopUpResult, "leaseId"> & { leaseId: string | null }) | null> {
  const at = sql`now()`;
  const found = await rows<TopUpRow>(
    db,
    sql`with ${lockedPoolCte(input.clientId, at, input.pool)},
        take as (
          select client_id, case when refilled > 0 then least(${normalizeCoins(input.want)}::numeric, refilled) else 0 end as taken
          from cur
        ),
        lease as (
          insert into coin_leases as l (id, client_id, holder, amount, expires_at, hold)
          select ${randomUUID()}, t.client_id, ${input.holder}, t.taken, ${at} + ${input.ttlSeconds}::float8 * interval '1 second',
                 ${holdInterval(input.holdSeconds)}
          from take t
          where t.taken > 0 or exists (select 1 from coin_leases x where x.client_id = t.client_id and x.holder = ${input.holder})
          on conflict (client_id, holder) do update
          set amount = l.amount + excluded.amount, expires_at = excluded.expires_at, hold = greatest(l.hold, excluded.hold)
          returning l.id, l.amount
        ),
        pool as (
          update coin_pools p set balance = cur.refilled - t.taken, leased = p.leased + t.taken, refilled_at = cur.anchor
          from cur join take t on t.client_id = cur.client_id
          where p.client_id = cur.client_id and (t.taken > 0 or cur.anchor <> p.refilled_at)
        )
        select (select id from lease)::text as lease_id, (select amount from lease)::text as amount, t.taken::text as taken,
               ceil(extract(epoch from (cur.anchor + interval '1 hour' - ${at})))::int as next_refill_s
        from cur join take t on t.client_id = cur.client_id`,
  );
  const row = found[0];
  if (!row) return null;
  return {
    leaseId: row.lease_id,
    amount: normalizeCoins(row.amount ?? "0"),
    taken: normalizeCoins(row.taken),
    nextRefillSeconds: Number(row.next_refill_s),
  };
}

/**
 * Extends the expiry of these leases of `holder` to now + ttl and their hold to at least
 * `holdSeconds`; returns the ids that still exist (a missing one was returned by a sweeper). Locks the
 * lease rows in (client, holder) order.
 */
export async function renewLeases(ex: Executor, holder: string, ids: readonly string[], ttlSeconds: number, holdSeconds: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await rows<{ id: string }>(
    ex,
    sql`with locked as (
          select id from coin_leases where holder = ${holder} and id = any(${`{${ids.join(",")}}`}::uuid[])
          order by client_id, holder for update
        )
        update coin_leases l
        set expires_at = now() + ${ttlSeconds}::float8 * interval '1 second', hold = greatest(l.hold, ${holdInterval(holdSeconds)})
        from locked where l.id = locked.id
        returning l.id::text as id`,
  );
  return found.map((r) => r.id);
}

/**
 * Returns leases to their pools (pool += amount, the row deleted) in one statement: the leases named by
 * `ids` (with `holder`), every lease of `holder` (ids null), or — `expiredOnly` — every lease whose
 * expiry passed more than its hold ago, whoever holds it (the sweeper: `holder` null). A lease
 * returned by a concurrent statement is skipped (its delete finds no row), so each lease is returned
 * exactly once. Returns the returned leases' ids and amounts.
 */
export async function returnLeases(
  ex: Executor,
  which: { holder: string | null; ids: readonly string[] | null; expiredOnly?: boolean },
): Promise<Array<{ id: string; amount: string }>> {
  const holder = which.holder === null ? sql`true` : sql`l.holder = ${which.holder}`;
  const ids = which.ids === null ? sql`true` : sql`l.id = any(${`{${which.ids.join(",")}}`}::uuid[])`;
  // expires_at < now() first: hold ≥ 0, and it lets the expiry index narrow the rows.
  const expired = which.expiredOnly ? sql`(l.expires_at < now() and l.expires_at + l.hold < now())` : sql`true`;
  if (which.ids !== null && which.ids.length === 0) return [];
  const found = await rows<{ id: string; amount: string }>(
    ex,
    sql`with candidates as (
          select distinct l.client_id from coin_leases l where ${holder} and ${ids} and ${expired}
        ),
        pools as (
          select p.client_id from coin_pools p join candidates c on c.client_id = p.client_id
          order by p.client_id for update of p
        ),
        leases as (
          select l.id from coin_leases l join pools p on p.client_id = l.client_id
          where ${holder} and ${ids} and ${expired} and (select count(*) from pools) >= 0
          order by l.client_id, l.holder for update of l
        ),
        gone as (
          delete from coin_leases l using leases k where l.id = k.id
          returning l.id, l.client_id, l.amount
        ),
        totals as (select client_id, sum(amount) as amount from gone group by client_id),
        credited as (
          update coin_pools p set balance = p.balance + t.amount, leased = p.leased - t.amount
          from totals t where p.client_id = t.client_id
        )
        select id::text as id, amount::text as amount from gone`,
  );
  return found.map((r) => ({ id: r.id, amount: normalizeCoins(r.amount) }));
}

/**
 * The sweeper's part for leases: returns every lease whose holder stopped renewing it (a crashed or
 * cut-off holder's) once expires_at + hold has passed — every request admitted from it has ended, so
 * none of their settlements can still land on the pool instead — and how many. The holder's own returns
 * stay immediate (lease.ts: an idle lease has nothing in flight; at shutdown the settlements drained first).
 */
export async function sweepExpiredLeases(ex: Executor): Promise<number> {
  return (await returnLeases(ex, { holder: null, ids: null, expiredOnly: true })).length;
}
