/**
 * Coin admission (SPEC section 6): before a request goes upstream, its estimated cost is reserved
 * from the client's pool; settle.ts later replaces the reservation by the true cost, release() gives
 * it back when the request failed before producing tokens, and the sweeper returns reservations whose
 * request never settled.
 *
 * Every write here is a single SQL statement, so it is atomic with any number of concurrent callers
 * and app instances, and holds the pool row lock only for the duration of that statement. (A client's
 * first admission also creates its pool row, in an idempotent statement of its own.)
 */
import { randomUUID } from "node:crypto";
import { sql, type SQL } from "drizzle-orm";
import { rows, type Db, type Executor } from "@/lib/db/client";
import { normalizeCoins, parseCoins } from "./decimal";
import { leaseReleased } from "./lease-local";
import { hasPool, UNLIMITED_MAX, type PoolConfig } from "./pool";
import { lockedPoolCte } from "./store";

export type Admission =
  | { kind: "unlimited" }
  | { kind: "reserved"; reservationId: string; clientId: string; amount: string }
  /** Admitted in memory against this instance's coin lease (lease.ts): `amount` is held there, not in a row of its own. */
  | { kind: "leased"; leaseId: string; clientId: string; amount: string };

export type Refusal = {
  kind: "refused";
  /** blocked: max 0 or no pool configured (403); exhausted: refilled balance ≤ 0 (429). */
  reason: "blocked" | "exhausted";
  /** Seconds to the next refill when the pool refills (refresh > 0), for `Retry-After`. */
  retryAfterSeconds: number | null;
};

export interface AdmitInput {
  clientId: string;
  pool: PoolConfig | null;
  /** Estimated cost (the prompt's bound plus the output limit, lib/gateway/proxy.ts), 6-decimal text. */
  estimate: string;
  /** `api.upstream_timeout_s`: the reservation expires one minute after it. */
  timeoutSeconds: number;
  /** Defaults to the database clock. */
  now?: Date;
}

/** A reservation outlives the upstream timeout by this much before the sweeper returns it. */
export const RESERVATION_GRACE_SECONDS = 60;

/**
 * The longest a request can stay in flight, from its admission to its settlement's last retry
 * (lib/gateway/settlement.ts stops retrying shortly before it): `api.upstream_timeout_s` +
 * RESERVATION_GRACE_SECONDS. A reservation expires this long after admission; the sweeper holds a
 * coin lease this long past its expiry (lease.ts), so every request admitted from it has ended first.
 */
export function inFlightSeconds(upstreamTimeoutSeconds: number): number {
  return upstreamTimeoutSeconds + RESERVATION_GRACE_SECONDS;
}

const timestamp = (now: Date | undefined): SQL => (now ? sql`${now.toISOString()}::timestamptz` : sql`now()`);

/**
 * Admits a request or refuses it (admitMany of one). Unlimited pools (max −2) reserve nothing.
 * Otherwise one statement locks the pool row, applies the lazy whole-hour refill (the formula of
 * store.ts/readPool) and, when the refilled balance is above zero, subtracts min(estimate, balance)
 * and inserts the reservation. A missing pool is first created at `starting`.
 */
export async function admit(db: Db, input: AdmitInput): Promise<Admission | Refusal> {
  const [result] = await admitMany(db, { ...input, estimates: [input.estimate] });
  return result!;
}

export interface AdmitManyInput extends Omit<AdmitInput, "estimate"> {
  /** One estimate per request of this client, in arrival order. */
  estimates: readonly string[];
}

/**
 * Admits several requests of one client in ONE statement, with exactly the outcome of admitting them
 * one after another in the given order: each takes min(estimate, what is left) while something is
 * left, and the first one that finds the balance at or below zero — and every later one — is
 * refused. Results are in the order of `estimates`.
 */
export async function admitMany(db: Db, input: AdmitManyInput): Promise<(Admission | Refusal)[]> {
  const { pool } = input;
  if (pool?.max === UNLIMITED_MAX) return input.estimates.map(() => ({ kind: "unlimited" }));
  if (!pool || !hasPool(pool)) {
    return input.estimates.map(() => ({ kind: "refused", reason: "blocked", retryAfterSeconds: null }));
  }
  for (const e of input.estimates) {
    if (parseCoins(e) < 0n) throw new RangeError(`estimate must not be negative: ${e}`);
  }
  if (input.estimates.length === 0) return [];

  // The pool row exists from its first use on; creating it is a separate idempotent step because a
  // row inserted by a statement is invisible to that statement's own SELECT … FOR UPDATE.
  for (let attempt = 0; attempt < 3; attempt++) {
    const outcome = await reserve(db, input, pool);
    if (outcome) return outcome;
    await db.execute(sql`
      insert into coin_pools (client_id, balance, refilled_at)
      values (${input.clientId}, ${normalizeCoins(pool.starting)}::numeric, ${timestamp(input.now)})
      on conflict (client_id) do nothing`);
  }
  throw new Error(`coin pool of client ${input.clientId} could not be created`);
}

interface ReserveRow {
  ord: number;
  amount: string | null;
  next_refill_s: number | string;
}

/** The admission statement; null when the client has no pool row yet. */
async function reserve(db: Db, input: AdmitManyInput, pool: PoolConfig): Promise<(Admission | Refusal)[] | null> {
  const at = timestamp(input.now);
  const ttl = inFlightSeconds(input.timeoutSeconds);
  // Reservation ids are made here so that each request knows its own.
  const requests = input.estimates.map((estimate, ord) => ({ ord, id: randomUUID(), estimate: normalizeCoins(estimate) }));
  // `cur`: the locked pool row with the same refill as readPool (store.ts lockedPoolCte). `takes`: what
  // is left before request i is the refilled balance minus the estimates of the requests before it
  // (each earlier one took its whole estimate while anything was left), so sequential min(estimate,
  // left) admission is a running sum. The refused case writes only
  // when the refill moved the anchor.
  //
  // `no_flush_wait` commits this statement asynchronously (synchronous_commit off for this
  // transaction only): the pool row lock is released without waiting for the disk flush, which
  // otherwise serialises a busy client's admissions behind one fsync each. Safe for money: if the
  // database server crashes before the flush, the reservation is lost together with its deduction
  // (the pool is as if it never happened), and the settlement — a normal durable commit, which
  // flushes every earlier WAL record including this one — then charges the full cost against no
  // reservation. Settlements, releases and every other write keep synchronous commits.
  const found = await rows<ReserveRow>(
    db,
    sql`with requests as (
          select x.ord, x.id, x.estimate
          from jsonb_to_recordset(${JSON.stringify(requests)}::jsonb) as x(ord int, id uuid, estimate numeric)
        ),
        ${lockedPoolCte(input.clientId, at, pool)},
        takes as (
          select ord, id, case when left_before > 0 then least(estimate, left_before) end as take
          from (
            select r.ord, r.id, r.estimate,
                   cur.refilled - coalesce(sum(r.estimate) over (order by r.ord rows between unbounded preceding and 1 preceding), 0) as left_before
            from requests r cross join cur
          ) running
        ),
        charged as (
          update coin_pools p set balance = cur.refilled - coalesce((select sum(take) from takes), 0), refilled_at = cur.anchor
          from cur
          where p.client_id = cur.client_id and (cur.refilled > 0 or cur.anchor <> p.refilled_at)
        ),
        reservation as (
          insert into coin_reservations (id, client_id, amount, expires_at)
          select id, ${input.clientId}, take, ${at} + ${ttl}::float8 * interval '1 second' from takes where take is not null
        ),
        no_flush_wait as (select set_config('synchronous_commit', 'off', true) as setting)
        select t.ord, t.take::text as amount,
               ceil(extract(epoch from (cur.anchor + interval '1 hour' - ${at})))::int as next_refill_s
        from takes t cross join cur cross join no_flush_wait
        order by t.ord`,
  );
  if (found.length === 0) return null;
  const refills = parseCoins(pool.refresh) > 0n;
  return found.map((row): Admission | Refusal => {
    if (row.amount !== null) {
      return { kind: "reserved", reservationId: requests[row.ord]!.id, clientId: input.clientId, amount: normalizeCoins(row.amount) };
    }
    return { kind: "refused", reason: "exhausted", retryAfterSeconds: refills ? Math.max(1, Number(row.next_refill_s)) : null };
  });
}

/**
 * Admissions this process has already settled or released. The reservation row makes the coin
 * credit idempotent in the database; this makes a second settle()/release() of the same admission
 * (e.g. both a stream's end and its abort firing) a no-op instead of a second log row.
 */
const finished = new WeakSet<Admission>();

/** Marks an admission as finished; false when it already was. Call `clearFinished` if the write failed. */
export function markFinished(admission: Admission): boolean {
  if (finished.has(admission)) return false;
  finished.add(admission);
  return true;
}

export function clearFinished(admission: Admission): void {
  finished.delete(admission);
}

/**
 * Gives the reservation of a request that failed before producing tokens back to the pool. The
 * reservation row is deleted in the same statement, so the credit happens at most once. A leased
 * admission's estimate is given back to its lease in memory (no database call).
 */
export async function release(db: Db, admission: Admission): Promise<void> {
  if (!markFinished(admission)) return;
  if (admission.kind === "leased") return leaseReleased(admission); // in memory: the lease still holds the coins
  if (admission.kind !== "reserved") return;
  try {
    await db.execute(sql`
      with gone as (delete from coin_reservations where id = ${admission.reservationId} returning client_id, amount)
      update coin_pools p set balance = p.balance + gone.amount from gone where p.client_id = gone.client_id`);
  } catch (err) {
    clearFinished(admission);
    throw err;
  }
}

/**
 * Returns reservations whose request never settled (expires_at passed: the process died) to their
 * pools; returns how many. `keep`: reservations whose settlement this process still holds (being
 * retried while the database was away) — never returned, so their request is billed when it lands. Rows are deleted inside the same statement that credits the pools, and rows
 * another sweeper holds are skipped, so each is returned exactly once however many instances sweep.
 * Pools are locked in client order, so concurrent sweepers cannot deadlock on them.
 */
export async function sweepExpiredReservations(ex: Executor, now?: Date, keep: readonly string[] = []): Promise<number> {
  const [row] = await rows<{ swept: number | string }>(
    ex,
    sql`with expired as (
          select id from coin_reservations
          where expires_at < ${timestamp(now)} and id <> all(${`{${keep.join(",")}}`}::uuid[])
          for update skip locked
        ),
        gone as (
          delete from coin_reservations r using expired where r.id = expired.id
          returning r.client_id, r.amount
        ),
        totals as (select client_id, sum(amount) as amount from gone group by client_id),
        locked as (
          select p.client_id from coin_pools p join totals t on t.client_id = p.client_id
          order by p.client_id for update of p
        ),
        credited as (
          update coin_pools p set balance = p.balance + t.amount
          from totals t join locked l on l.client_id = t.client_id
          where p.client_id = t.client_id
        )
        select count(*)::int as swept from gone`,
  );
  return Number(row?.swept ?? 0);
}
