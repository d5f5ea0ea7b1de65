/**
 * Coin leases, in memory (README "Overspend, bounded by construction"; the statements are in
 * lease-sql.ts). Per database handle and process, a LeaseBook holds at most one lease per client: a
 * slice of the client's capped pool taken in one statement. A request whose estimate the lease's
 * available part (amount − estimates in flight) covers is admitted here with no database call. Else
 * ONE top-up statement per client at a time (requests arriving meanwhile wait for it, in order) takes
 * what the waiting requests need plus a target sized from the recent rate from the pool; each waiting
 * request then takes its estimate, or — when the pool had less than asked for — min(estimate,
 * available) while available > 0, else it is refused `exhausted` exactly as a reservation would be.
 *
 * Settlement (settle.ts) charges the lease row, or the pool when the lease is gone, and then calls
 * leaseSettled: amount −= cost, in flight −= estimate. A lease is used only while it is safely held:
 * local monotonic time < (time its last renewing statement was SENT) + ttl − margin. A timer renews
 * active leases, returns idle ones (nothing in flight, no admission for idleMs) to the pool, and
 * close() (the runtime, at shutdown) returns them all. Every top-up and renewal also writes the
 * lease's hold — the longest a request admitted from it can stay in flight, inFlightSeconds of the
 * admissions' upstream timeout (admission.ts) unless the timings fix it — so that a sweeper returns a
 * lease its holder stopped renewing only once all of its requests have ended (lease-sql.ts).
 */
import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { errorFields, log } from "@/lib/log";
import { processState } from "@/lib/process-state";
import { inFlightSeconds, type Admission, type Refusal } from "./admission";
import { formatMicro, normalizeCoins, parseCoins } from "./decimal";
import { LocalLease, ownLease, type LeaseTimings, LEASE_TIMINGS } from "./lease-local";
import { renewLeases, returnLeases, topUpLease, type TopUpResult } from "./lease-sql";
import type { PoolConfig } from "./pool";
import { RateWindow } from "./rate-window";

export { LEASE_TIMINGS, leaseAbandoned, leaseReleased, leaseSettled, type LeaseTimings } from "./lease-local";

/** A pool found empty is not topped up in the background again before this long. */
const EMPTY_BACKOFF_MS = 1_000;

export interface LeaseAdmitInput {
  clientId: string;
  /** A capped pool (max > 0). */
  pool: PoolConfig;
  estimate: string;
  /** `api.coin_lease.max_fraction`: a lease's target is at most this share of max (never below one estimate). */
  maxFraction: number;
  /** `api.upstream_timeout_s`: the lease's hold is inFlightSeconds of it (unless the timings fix the hold). */
  timeoutSeconds: number;
}

interface Waiter {
  estimate: bigint;
  resolve(result: Admission | Refusal): void;
  reject(err: unknown): void;
}

interface ClientState {
  clientId: string;
  pool: PoolConfig;
  maxFraction: number;
  lease: LocalLease | null;
  waiting: Waiter[];
  /** The top-up or return in flight. */
  op: Promise<void> | null;
  /** Waiters taken out of `waiting` by the top-up in flight (no admission may overtake them). */
  covering: number;
  lastAdmitAt: number;
  lastEstimate: bigint;
  emptyUntil: number;
  rate: RateWindow;
}

/** The open books, in the process's slot (every bundle's copy of this module sees the same). */
const open = () => (processState().leaseBooks ??= new Set());

export class LeaseBook {
  /** This instance's id in coin_leases.holder. */
  readonly holder = randomUUID();
  private readonly clients = new Map<string, ClientState>();
  /** Admissions answered from memory at once, and those that waited for a statement (tests, benchmarks). */
  readonly stats = { fromMemory: 0, waited: 0 };
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;
  private closing: Promise<void> | null = null;
  /** The hold written with top-ups and renewals: the longest seen (a config reload never shortens it under requests in flight). */
  private holdMs: number;

  constructor(
    private readonly db: Db,
    readonly timings: LeaseTimings = LEASE_TIMINGS,
  ) {
    this.holdMs = timings.holdMs ?? 0;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Admits in memory when the lease covers the estimate, else after this client's top-up. */
  admit(input: LeaseAdmitInput): Promise<Admission | Refusal> {
    const e = parseCoins(input.estimate);
    if (e < 0n) throw new RangeError(`estimate must not be negative: ${input.estimate}`);
    // Before any admission from a lease: the top-up that follows (or the next renewal) writes it.
    if (this.timings.holdMs === null) this.holdMs = Math.max(this.holdMs, inFlightSeconds(input.timeoutSeconds) * 1000);
    const st = this.state(input);
    const l = st.lease;
    if (l && !l.retired && st.waiting.length === 0 && st.covering === 0 && this.usable(l) && l.available >= e && l.available > 0n) {
      this.stats.fromMemory++;
      return Promise.resolve(this.take(st, l, e));
    }
    this.stats.waited++;
    return new Promise((resolve, reject) => {
      st.waiting.push({ estimate: e, resolve, reject });
      this.kick(st);
    });
  }

  /** Whether admissions may be taken from a lease: safely held, with a hold in its row long enough for them. */
  private usable(l: LocalLease): boolean {
    return performance.now() < l.validUntil && l.holdMs >= this.holdMs;
  }

  /** Coins available in this client's lease (tests, diagnostics); null without a lease. */
  available(clientId: string): { leaseId: string; amount: string; inflight: string } | null {
    const l = this.clients.get(clientId)?.lease;
    return l ? { leaseId: l.id, amount: formatMicro(l.amount), inflight: formatMicro(l.inflight) } : null;
  }

  private state(input: LeaseAdmitInput): ClientState {
    let st = this.clients.get(input.clientId);
    if (!st) {
      st = { clientId: input.clientId, pool: input.pool, maxFraction: input.maxFraction, lease: null, waiting: [], op: null,
        covering: 0, lastAdmitAt: performance.now(), lastEstimate: 0n, emptyUntil: 0, rate: new RateWindow() };
      this.clients.set(input.clientId, st);
    }
    st.pool = input.pool;
    st.maxFraction = input.maxFraction;
    if (!this.timer && !this.closing) {
      this.timer = setInterval(() => this.tick(), this.timings.tickMs);
      this.timer.unref();
    }
    return st;
  }

  private take(st: ClientState, l: LocalLease, amount: bigint): Admission {
    l.inflight += amount;
    l.count++;
    const now = performance.now();
    st.lastAdmitAt = now;
    st.lastEstimate = amount;
    st.rate.add(amount, now);
    const admission: Admission = { kind: "leased", leaseId: l.id, clientId: st.clientId, amount: formatMicro(amount) };
    ownLease(admission, l);
    // Low water: top up in the background, so a steady client never waits for the database.
    if (!st.op && now >= st.emptyUntil && l.available < this.target(st, amount) / 2n) this.topUp(st, []);
    return admission;
  }

  /** What a top-up aims to leave available beyond the waiting requests: recent rate × horizon, capped, ≥ one estimate. */
  private target(st: ClientState, estimate: bigint): bigint {
    const cap = (parseCoins(st.pool.max) * BigInt(Math.round(st.maxFraction * 1_000_000))) / 1_000_000n;
    const paced = (st.rate.perSecond(performance.now()) * BigInt(this.timings.horizonMs)) / 1000n;
    const t = paced < cap ? paced : cap;
    return t > estimate ? t : estimate;
  }

  /** Serves waiters the lease covers, in order; the rest wait for one top-up (or the lease's return first). */
  private kick(st: ClientState): void {
    if (st.op || st.waiting.length === 0) return;
    const l = st.lease;
    if (l?.retired) {
      this.giveBack(st, l);
      return;
    }
    if (l && this.usable(l)) {
      while (st.waiting.length > 0 && l.available >= st.waiting[0]!.estimate && l.available > 0n) {
        const w = st.waiting.shift()!;
        w.resolve(this.take(st, l, w.estimate));
      }
    }
    if (st.waiting.length > 0) this.topUp(st, st.waiting.splice(0));
  }

  private topUp(st: ClientState, covered: Waiter[]): void {
    const need = covered.reduce((sum, w) => sum + w.estimate, 0n);
    const last = covered.at(-1)?.estimate ?? st.lastEstimate;
    const held = st.lease && !st.lease.retired ? st.lease.available : 0n;
    let want = need + this.target(st, last) - held;
    if (want < 1n) want = 1n; // one micro-coin: "took less than asked" then always means the pool ran dry
    st.covering = covered.length;
    const sentAt = performance.now();
    const holdMs = this.holdMs;
    st.op = (async () => {
      try {
        const result = await this.topUpStatement(st, formatMicro(want), holdMs);
        const applied = this.applyTopUp(st, result, sentAt, holdMs);
        // An answer that came later than ttl − margin after the statement was sent: the lease may
        // already be a sweeper's — not used (the waiters go round again, and a new top-up renews it).
        const l = applied && this.usable(applied) ? applied : null;
        const exhausted = parseCoins(result.taken) < want;
        if (exhausted) st.emptyUntil = performance.now() + EMPTY_BACKOFF_MS;
        const again: Waiter[] = [];
        for (const w of covered) {
          const available = l?.available ?? 0n;
          if (l && available > 0n && (available >= w.estimate || exhausted)) {
            w.resolve(this.take(st, l, available >= w.estimate ? w.estimate : available));
          } else if (exhausted && !st.lease?.retired && (l || !applied)) {
            w.resolve(exhaustedRefusal(st.pool, result.nextRefillSeconds));
          } else again.push(w); // a settled overrun shrank the lease meanwhile: another round
        }
        st.waiting.unshift(...again);
      } catch (err) {
        for (const w of covered) w.reject(err);
        if (covered.length === 0) log.warn("coin lease top-up failed", { clientId: st.clientId, ...errorFields(err) });
      } finally {
        st.covering = 0;
        st.op = null;
        this.kick(st);
      }
    })();
  }

  private async topUpStatement(st: ClientState, want: string, holdMs: number): Promise<TopUpResult | (Omit<TopUpResult, "leaseId"> & { leaseId: null })> {
    const ttlSeconds = this.timings.ttlMs / 1000;
    const holdSeconds = holdMs / 1000;
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await topUpLease(this.db, { clientId: st.clientId, holder: this.holder, pool: st.pool, want, ttlSeconds, holdSeconds });
      if (result) return result as TopUpResult;
      // The client's first use: create its pool row (as admission does), then top up.
      await this.db.execute(sql`
        insert into coin_pools (client_id, balance, refilled_at)
        values (${st.clientId}, ${normalizeCoins(st.pool.starting)}::numeric, now())
        on conflict (client_id) do nothing`);
    }
    throw new Error(`coin pool of client ${st.clientId} could not be created`);
  }

  /** The lease to admit from after a top-up; null when there is none (or only a retired one, returned next). */
  private applyTopUp(st: ClientState, result: { leaseId: string | null; amount: string; taken: string }, sentAt: number, holdMs: number): LocalLease | null {
    const l = st.lease;
    if (result.leaseId === null) {
      st.lease = null; // none exists (a sweeper returned ours): in-flight requests settle against the pool
      return null;
    }
    if (l && l.id === result.leaseId) {
      // The same row: what it took adds to what memory knows. A retired lease stays retired (its
      // in-flight requests are not in a new lease's count), so it is returned before anything else.
      l.amount += parseCoins(result.taken);
      l.renewed(sentAt, this.timings, holdMs);
      return l.retired ? null : l;
    }
    // A new row (ours was returned by a sweeper): exactly what this top-up took.
    const fresh = new LocalLease(result.leaseId, parseCoins(result.amount));
    fresh.renewed(sentAt, this.timings, holdMs);
    st.lease = fresh;
    return fresh;
  }

  /** Returns a lease (idle, or retired) to the pool; waiters then get a new one. */
  private giveBack(st: ClientState, l: LocalLease): void {
    l.retired = true;
    st.op = (async () => {
      let failed: unknown = null;
      try {
        await returnLeases(this.db, { holder: this.holder, ids: [l.id] });
        if (st.lease === l) st.lease = null;
      } catch (err) {
        failed = err;
        log.warn("coin lease return failed", { clientId: st.clientId, ...errorFields(err) });
      } finally {
        st.op = null;
        if (failed) for (const w of st.waiting.splice(0)) w.reject(failed);
        else this.kick(st);
      }
    })();
  }

  /** The timer: renews active leases, returns idle ones, forgets idle clients. */
  private tick(): void {
    const now = performance.now();
    const t = this.timings;
    const due: LocalLease[] = [];
    for (const [id, st] of this.clients) {
      const l = st.lease;
      const idle = !st.op && st.waiting.length === 0 && now - st.lastAdmitAt >= t.idleMs;
      if (l && idle && l.count === 0) this.giveBack(st, l);
      else if (l && !l.retired && now - l.renewedSent >= t.renewMs) due.push(l);
      else if (!l && idle) this.clients.delete(id);
    }
    if (due.length === 0 || this.renewing) return;
    this.renewing = true;
    const holdMs = this.holdMs;
    renewLeases(this.db, this.holder, due.map((l) => l.id), t.ttlMs / 1000, holdMs / 1000)
      .then((found) => {
        const alive = new Set(found);
        for (const l of due) {
          if (alive.has(l.id)) l.renewed(now, t, holdMs);
          else l.retired = true; // returned by a sweeper: in-flight requests settle against the pool
        }
      })
      .catch((err: unknown) => log.warn("coin lease renewal failed", { ...errorFields(err) }))
      .finally(() => (this.renewing = false));
  }

  /** Shutdown: stops the timer, waits for top-ups in flight and returns every lease of this holder. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      await Promise.allSettled([...this.clients.values()].map((st) => st.op));
      for (const st of this.clients.values()) if (st.lease) st.lease.retired = true;
      await returnLeases(this.db, { holder: this.holder, ids: null });
      this.clients.clear();
      open().delete(this);
    })();
    return this.closing;
  }
}

function exhaustedRefusal(pool: PoolConfig, nextRefillSeconds: number): Refusal {
  const refills = parseCoins(pool.refresh) > 0n;
  return { kind: "refused", reason: "exhausted", retryAfterSeconds: refills ? Math.max(1, nextRefillSeconds) : null };
}

const books = new WeakMap<Db, LeaseBook>();

/** The lease book of a database handle (one per handle and process). */
export function leaseBook(db: Db): LeaseBook {
  let book = books.get(db);
  if (!book) {
    book = new LeaseBook(db);
    books.set(db, book);
    open().add(book);
  }
  return book;
}

/** Returns every lease of every open book (lib/runtime.ts, at shutdown, before the database closes). */
export async function closeLeaseBooks(): Promise<void> {
  await Promise.all([...open()].map((b) => b.close()));
}
