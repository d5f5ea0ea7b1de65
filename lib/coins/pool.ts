/**
 * Coin pool arithmetic (SPEC section 6), pure. store.ts does the same refill in SQL; the two must agree.
 */
import type { ResolvedPool } from "@/lib/config/resolve";
import { compareMicro, formatMicro, maxMicro, microToNumber, minMicro, mulMicro, parseCoins } from "./decimal";

/** A stored pool: `balance` is numeric text (e.g. "12.500000"), `refilledAt` the refill anchor. */
export interface PoolState {
  balance: string;
  refilledAt: Date;
}

export type PoolConfig = ResolvedPool;

export const UNLIMITED_MAX = -2;
export const BLOCKED_MAX = 0;
export const HOUR_MS = 3_600_000;

/** Whole hours from the anchor to `now` (0 when the clock is behind the anchor). */
export function wholeHoursSince(anchor: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - anchor.getTime()) / HOUR_MS));
}

/** True when the config gives the client a capped pool (max > 0). */
export function hasPool(cfg: PoolConfig): boolean {
  return cfg.max > 0;
}

/**
 * Credits `refresh` per whole hour since the anchor, capped at `max` — but a balance already above
 * `max` (e.g. after max was lowered) is never lowered. The anchor moves by the whole hours counted,
 * also when the pool was already full. `hoursCredited` is that number of hours.
 */
export function refillPool(
  state: PoolState,
  cfg: PoolConfig,
  now: Date,
): { balance: string; refilledAt: Date; hoursCredited: number } {
  const balance = parseCoins(state.balance);
  const hours = hasPool(cfg) ? wholeHoursSince(state.refilledAt, now) : 0;
  if (hours === 0) return { balance: formatMicro(balance), refilledAt: state.refilledAt, hoursCredited: 0 };
  const credited = balance + mulMicro(parseCoins(cfg.refresh), hours);
  const next = maxMicro(balance, minMicro(parseCoins(cfg.max), credited));
  return {
    balance: formatMicro(next),
    refilledAt: new Date(state.refilledAt.getTime() + hours * HOUR_MS),
    hoursCredited: hours,
  };
}

/** When the next coins arrive: the next whole hour after the (refilled) anchor; null if none will. */
export function nextRefillAt(state: PoolState, cfg: PoolConfig, now: Date): Date | null {
  if (!hasPool(cfg) || parseCoins(cfg.refresh) === 0n) return null;
  const refilled = refillPool(state, cfg, now);
  if (compareMicro(parseCoins(refilled.balance), parseCoins(cfg.max)) >= 0) return null;
  return new Date(refilled.refilledAt.getTime() + HOUR_MS);
}

export type PoolView =
  | { kind: "unlimited" }
  | { kind: "blocked" }
  | { kind: "not_configured" }
  | {
      kind: "pool";
      /** Current balance after refill, 6-decimal text; may be negative after an overrun. */
      balance: string;
      max: string;
      /** balance / max as 0–100, clamped. */
      percent: number;
      refreshPerHour: string;
      /** Whole minutes (rounded up) until the next refill; null when no refill is coming. */
      nextRefillInMinutes: number | null;
    };

/** What the client detail page shows for the pool. `state` null: no row yet, the balance is `starting`. */
export function poolView(state: PoolState | null, cfg: PoolConfig | null, now: Date): PoolView {
  if (!cfg) return { kind: "not_configured" };
  if (cfg.max === UNLIMITED_MAX) return { kind: "unlimited" };
  if (!hasPool(cfg)) return { kind: "blocked" };

  const current = state ?? { balance: formatMicro(parseCoins(cfg.starting)), refilledAt: now };
  const refilled = refillPool(current, cfg, now);
  const balance = parseCoins(refilled.balance);
  const max = parseCoins(cfg.max);
  const percent = Math.min(100, Math.max(0, (microToNumber(balance) / microToNumber(max)) * 100));
  const next = nextRefillAt(refilled, cfg, now);
  return {
    kind: "pool",
    balance: refilled.balance,
    max: formatMicro(max),
    percent,
    refreshPerHour: formatMicro(parseCoins(cfg.refresh)),
    nextRefillInMinutes: next ? Math.ceil((next.getTime() - now.getTime()) / 60_000) : null,
  };
}
