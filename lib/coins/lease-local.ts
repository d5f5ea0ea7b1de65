/**
 * The memory of one coin lease (lease.ts): what it holds and what its requests in flight took, and
 * which lease each leased admission came from — so settlement (settle.ts) and release (admission.ts)
 * update the right lease without knowing the book.
 */
import type { Admission } from "./admission";
import { parseCoins } from "./decimal";

export interface LeaseTimings {
  /** A lease's expiry in the database is its last renewal + ttlMs (the sweeper returns it holdMs after). */
  ttlMs: number;
  renewMs: number;
  /** Used locally only until (renewing statement sent) + ttlMs − marginMs. */
  marginMs: number;
  /**
   * How long the sweeper keeps an expired lease before returning it (written into the row, as the
   * expiry is): the longest a request admitted from it can stay in flight, so that it is settled
   * against the lease, not the pool. null: from each admission's `timeoutSeconds`,
   * inFlightSeconds(api.upstream_timeout_s) (admission.ts) — the reservations' lifetime.
   */
  holdMs: number | null;
  /** Returned to the pool after this long without an admission, once nothing is in flight. */
  idleMs: number;
  /** Coins a top-up aims to leave available: the admitted rate over this horizon (capped). */
  horizonMs: number;
  tickMs: number;
}

export const LEASE_TIMINGS: LeaseTimings = {
  ttlMs: 60_000,
  renewMs: 20_000,
  marginMs: 10_000,
  holdMs: null,
  idleMs: 5_000,
  horizonMs: 2_000,
  tickMs: 1_000,
};

export class LocalLease {
  inflight = 0n;
  count = 0;
  retired = false;
  validUntil = 0;
  renewedSent = -Infinity;
  /** The hold its row is known to have (ms): admitting a request that needs more waits for a top-up, which writes it. */
  holdMs = 0;
  constructor(
    readonly id: string,
    public amount: bigint,
  ) {}
  get available(): bigint {
    return this.amount - this.inflight;
  }
  renewed(sentAt: number, t: LeaseTimings, holdMs: number): void {
    this.renewedSent = Math.max(this.renewedSent, sentAt);
    this.holdMs = Math.max(this.holdMs, holdMs);
    this.validUntil = Math.max(this.validUntil, sentAt + t.ttlMs - t.marginMs);
  }
}

/** The lease each leased admission was taken from (settle.ts and release() find it here). */
const owner = new WeakMap<Admission, LocalLease>();

/** Records that `admission` was taken from `lease`. */
export function ownLease(admission: Admission, lease: LocalLease): void {
  owner.set(admission, lease);
}

/** A leased admission was settled (committed) at `coins`. */
export function leaseSettled(admission: Admission, coins: string): void {
  const l = owner.get(admission);
  if (!l || admission.kind !== "leased") return;
  owner.delete(admission);
  l.amount -= parseCoins(coins);
  l.inflight -= parseCoins(admission.amount);
  l.count--;
}

/** A leased admission ended before reaching an upstream: its estimate is available again. */
export function leaseReleased(admission: Admission): void {
  const l = owner.get(admission);
  if (!l || admission.kind !== "leased") return;
  owner.delete(admission);
  l.inflight -= parseCoins(admission.amount);
  l.count--;
}

/**
 * A leased admission's settlement was given up (lost): memory can no longer tell whether it was
 * charged, so the lease is retired — used no more and returned (the database's amount is the truth).
 */
export function leaseAbandoned(admission: Admission): void {
  const l = owner.get(admission);
  leaseReleased(admission);
  if (l) l.retired = true;
}

