/**
 * Rate limits of the /v1 API (SPEC §5): `rpm` (requests per minute), `tpm` (tokens per minute) and
 * `max_parallel` (requests in flight), per client and per key (`key_limits`), from config.yaml and read
 * on every request (so edits apply to the next one). Checked after the access check and before the coin
 * admission; exceeded → 429 `rate_limit_error` / `rate_limit_exceeded` with Retry-After.
 *
 * - rpm and tpm are counted by rate-limiter-flexible in fixed one-minute windows. A request consumes 1
 *   request and its token estimate — prompt plus output limit, as OpenAI counts it; a request larger
 *   than the whole tpm consumes tpm, so it passes in an otherwise empty minute — and its settlement
 *   corrects the tokens to what was billed (input + output). A request refused by any limit gives back
 *   everything it consumed; one refused later (coins, endpoint) gives back its tokens and its slot.
 * - max_parallel is a lease per request in flight (a Redis sorted set scored by expiry, or a Map):
 *   released by its settlement; a lease a crashed instance left behind expires after the upstream
 *   timeout plus a minute. (Windowed counters cannot express "in flight" without leaking on a crash.)
 * - Storage: in this process, or shared by every instance through Redis when
 *   `rate_limits.storage_url: redis://…` is set (keys under `rate_limits.key_prefix`).
 * - Redis unreachable or too slow (over COMMAND_TIMEOUT_MS): the request passes unlimited — a gateway
 *   that stops serving because its rate-limit store is away would turn a cache outage into an API
 *   outage — a warning is logged at most once a minute, and lumen_rate_limit_store_errors_total counts
 *   the requests that passed unchecked.
 *
 * Headers (OpenAI's): x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
 * x-ratelimit-reset-requests and the -tokens trio, on every answer of a request that a limit applies
 * to, from the tighter scope (client or key: the one with fewer remaining).
 */
import { randomUUID } from "node:crypto";
import { RateLimiterRes } from "rate-limiter-flexible";
import type { RateLimits, ResolvedLimits } from "@/lib/config/resolve";
import type { LumenConfig } from "@/lib/config/schema";
import { errorFields, log } from "@/lib/log";
import { recordRateLimitStoreError } from "@/lib/metrics";
import { rateLimitExceeded } from "./errors";
import { MemoryStore, RedisStore, type CounterStore } from "./rate-limit-stores";

const WARN_EVERY_MS = 60_000;

interface Snapshot {
  limit: number;
  remaining: number;
  resetMs: number;
}

/** OpenAI's reset format: "20ms", "12s", "1m30s". */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

function headersOf(requests: Snapshot[], tokens: Snapshot[]): Record<string, string> {
  const out: Record<string, string> = {};
  const tightest = (list: Snapshot[]) => list.reduce<Snapshot | null>((a, b) => (a === null || b.remaining < a.remaining ? b : a), null);
  for (const [name, s] of [["requests", tightest(requests)], ["tokens", tightest(tokens)]] as const) {
    if (!s) continue;
    out[`x-ratelimit-limit-${name}`] = String(s.limit);
    out[`x-ratelimit-remaining-${name}`] = String(s.remaining);
    out[`x-ratelimit-reset-${name}`] = resetText(s.resetMs);
  }
  return out;
}

/** What an admitted request holds: its share of the counters, given back or corrected when it ends. */
export class RateTicket {
  private done = false;

  constructor(
    /** x-ratelimit-* headers for the answer. */
    readonly headers: Record<string, string>,
    private readonly undo: (billedTokens: number | null) => Promise<void>,
  ) {}

  /**
   * The request ended: `billedTokens` corrects the token estimate (input + output billed); null gives
   * the tokens back (it never reached an upstream). Frees the parallel slot. Once; never throws.
   */
  finish(billedTokens: number | null): void {
    if (this.done) return;
    this.done = true;
    void this.undo(billedTokens).catch(() => {});
  }
}

interface Check {
  scope: "client" | "key";
  kind: "rpm" | "tpm" | "max_parallel";
  id: string;
  limit: number;
  /** Points consumed (rpm 1, tpm the estimate). */
  points: number;
}

const SCOPE_WORDS = { client: "this client", key: "this API key" } as const;
const KIND_WORDS = { rpm: "requests per minute (rpm)", tpm: "tokens per minute (tpm)", max_parallel: "requests in flight (max_parallel)" } as const;

function checksOf(scope: "client" | "key", id: string, limits: RateLimits, tokens: number): Check[] {
  const out: Check[] = [];
  if (limits.rpm) out.push({ scope, kind: "rpm", id, limit: limits.rpm, points: 1 });
  if (limits.tpm) out.push({ scope, kind: "tpm", id, limit: limits.tpm, points: Math.min(tokens, limits.tpm) });
  if (limits.max_parallel) out.push({ scope, kind: "max_parallel", id, limit: limits.max_parallel, points: 1 });
  return out;
}

export class RateLimiter {
  private store: CounterStore | null = null;
  private lastWarnAt = -Infinity;

  constructor(private readonly getConfig: () => LumenConfig) {}

  private storeFor(config: LumenConfig): CounterStore {
    const url = config.rate_limits.storage_url ?? null;
    const prefix = config.rate_limits.key_prefix;
    if (!this.store || this.store.url !== url || this.store.prefix !== prefix) {
      void this.store?.close();
      this.store = url ? new RedisStore(url, prefix, (err) => this.warn(err)) : new MemoryStore(prefix);
    }
    return this.store;
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    log.warn("rate-limit store unreachable: requests pass without rate limits", { ...errorFields(err) });
  }

  /**
   * Counts one request against its client's and key's limits. null when no limit applies; a ticket
   * (headers, and what to give back) when it passes; throws 429 rate_limit_exceeded when it does not.
   * `tokens`: the token estimate (prompt + output limit); `leaseMs`: how long a lease may outlive a
   * crash.
   */
  async admit(request: { clientId: string; keyId: string; limits: ResolvedLimits; tokens: number; leaseMs: number }): Promise<RateTicket | null> {
    const tokens = Math.max(0, Math.round(request.tokens));
    const checks = [
      ...checksOf("client", `c:${request.clientId}`, request.limits.client, tokens),
      ...checksOf("key", `k:${request.keyId}`, request.limits.key, tokens),
    ];
    if (checks.length === 0) return null;
    const store = this.storeFor(this.getConfig());
    const member = randomUUID();
    if (!(await store.usable())) {
      recordRateLimitStoreError();
      this.warn(new Error(`rate-limit store ${store.url ? "(Redis) not connected" : "unusable"}`));
      return null;
    }

    const results = await Promise.allSettled(
      checks.map(async (c): Promise<Snapshot> => {
        if (c.kind === "max_parallel") {
          const { ok, held } = await store.acquire(c.id, c.limit, request.leaseMs, member);
          if (!ok) throw new RateLimiterRes(0, 1000, held);
          return { limit: c.limit, remaining: c.limit - held, resetMs: 0 };
        }
        const res = await store.window(c.kind, c.limit).consume(c.id, c.points);
        return { limit: c.limit, remaining: res.remainingPoints, resetMs: res.msBeforeNext };
      }),
    );

    /** Checks whose points are in the store (passed, or refused after counting): given back on refusal. */
    const counted: Check[] = [];
    const requests: Snapshot[] = [];
    const tokenSnaps: Snapshot[] = [];
    let refused: { check: Check; retryMs: number } | null = null;
    let storeError: unknown = null;
    results.forEach((r, i) => {
      const c = checks[i]!;
      if (r.status === "fulfilled") {
        counted.push(c);
        if (c.kind === "rpm") requests.push(r.value);
        if (c.kind === "tpm") tokenSnaps.push(r.value);
      } else if (r.reason instanceof RateLimiterRes) {
        if (c.kind !== "max_parallel") counted.push(c);
        const snap = { limit: c.limit, remaining: 0, resetMs: r.reason.msBeforeNext };
        if (c.kind === "rpm") requests.push(snap);
        if (c.kind === "tpm") tokenSnaps.push(snap);
        if (!refused || r.reason.msBeforeNext > refused.retryMs) refused = { check: c, retryMs: r.reason.msBeforeNext };
      } else storeError = r.reason;
    });
    if (storeError !== null) {
      recordRateLimitStoreError();
      this.warn(storeError);
    }

    /** At the end of an admitted request: its lease back, its token estimate corrected (rpm stays counted). */
    const settle = async (tokensBilled: number | null) => {
      await Promise.allSettled(
        counted.map((c) => {
          if (c.kind === "max_parallel") return store.release(c.id, member);
          if (c.kind === "rpm") return Promise.resolve();
          const diff = (tokensBilled ?? 0) - c.points;
          if (diff < 0) return store.window("tpm", c.limit).reward(c.id, -diff);
          if (diff > 0) return store.window("tpm", c.limit).penalty(c.id, diff);
          return Promise.resolve();
        }),
      );
    };

    const headers = headersOf(requests, tokenSnaps);
    if (refused) {
      const { check, retryMs } = refused as { check: Check; retryMs: number };
      // Refused: nothing of this request stays counted, in any scope.
      await Promise.allSettled(
        counted.map((c) => (c.kind === "max_parallel" ? store.release(c.id, member) : store.window(c.kind, c.limit).reward(c.id, c.points))),
      );
      const retryAfter = Math.max(1, Math.ceil(retryMs / 1000));
      const err = rateLimitExceeded(
        `Rate limit reached for ${KIND_WORDS[check.kind]} of ${SCOPE_WORDS[check.scope]}: limit ${check.limit}. Try again in ${retryAfter} s.`,
        retryAfter,
      );
      Object.assign(err.headers, headers);
      throw err;
    }
    return new RateTicket(headers, settle);
  }

  /** Closes the Redis connection, if any (lib/runtime.ts shutdown). */
  async close(): Promise<void> {
    const store = this.store;
    this.store = null;
    await store?.close();
  }
}
