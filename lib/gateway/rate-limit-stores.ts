/**
 * Where the rate limiter's counters live (rate-limits.ts): in this process, or in Redis shared by every
 * instance. rpm and tpm are rate-limiter-flexible's fixed windows; max_parallel is a lease per request in
 * flight (a sorted set scored by expiry in Redis, a Map here).
 */
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";

const WINDOW_SECONDS = 60;
/** A Redis that takes longer than this for a command counts as unreachable (the request passes). */
export const COMMAND_TIMEOUT_MS = 250;

export type Window = "rpm" | "tpm";

/** Where the counters live. */
export interface CounterStore {
  readonly url: string | null;
  readonly prefix: string;
  /** Resolves false when the store cannot be used now (the request then passes unchecked). */
  usable(): Promise<boolean>;
  window(kind: Window, points: number): RateLimiterAbstract;
  /** Takes a lease when fewer than `max` are held: {ok, held after}. */
  acquire(key: string, max: number, ttlMs: number, member: string): Promise<{ ok: boolean; held: number }>;
  release(key: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/** Per (kind, points): limiters sharing a key prefix share their counters, so a changed limit keeps the minute's count. */
function windowCache(make: (kind: Window, points: number) => RateLimiterAbstract) {
  const cache = new Map<string, RateLimiterAbstract>();
  return (kind: Window, points: number) => {
    const id = `${kind}:${points}`;
    let limiter = cache.get(id);
    if (!limiter) cache.set(id, (limiter = make(kind, points)));
    return limiter;
  };
}

export class MemoryStore implements CounterStore {
  readonly url = null;
  private readonly leases = new Map<string, Map<string, number>>();
  readonly window: CounterStore["window"];

  constructor(readonly prefix: string) {
    this.window = windowCache((kind, points) => new RateLimiterMemory({ points, duration: WINDOW_SECONDS, keyPrefix: `${prefix}:rl:${kind}` }));
  }

  async usable() {
    return true;
  }

  async acquire(key: string, max: number, ttlMs: number, member: string) {
    const now = Date.now();
    let held = this.leases.get(key);
    if (!held) this.leases.set(key, (held = new Map()));
    for (const [m, expires] of held) if (expires <= now) held.delete(m);
    if (held.size >= max) return { ok: false, held: held.size };
    held.set(member, now + ttlMs);
    return { ok: true, held: held.size };
  }

  async release(key: string, member: string) {
    const held = this.leases.get(key);
    held?.delete(member);
    if (held?.size === 0) this.leases.delete(key);
  }

  async close() {}
}

/** Removes expired leases, then adds one unless `max` are held. Redis's own clock, so instances' clocks never matter. */
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[1]) then return {0, held} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, held + 1}`;

type LumenRedis = Redis & { lumenAcquire(key: string, max: number, ttlMs: number, member: string): Promise<[number, number]> };

export class RedisStore implements CounterStore {
  private readonly client: LumenRedis;
  readonly window: CounterStore["window"];
  /** The first connection attempt is still running (no ready, no error yet): worth a short wait. */
  private firstAttempt = true;
  private readonly firstReady: Promise<void>;

  constructor(
    readonly url: string,
    readonly prefix: string,
    onError: (err: unknown) => void,
  ) {
    // Loaded here, when a Redis store is configured: ioredis takes ~85 ms to load, on the start-up path
    // of every install that keeps its counters in memory otherwise.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Redis: RedisClient } = require("ioredis") as typeof import("ioredis");
    this.client = new RedisClient(url, {
      // Fail at once while disconnected (the request passes) instead of queueing behind a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(200 * times, 2_000),
    }) as LumenRedis;
    this.client.on("error", (err) => {
      this.firstAttempt = false;
      onError(err);
    });
    this.firstReady = new Promise((resolve) => this.client.once("ready", () => resolve()));
    void this.firstReady.then(() => (this.firstAttempt = false));
    this.client.defineCommand("lumenAcquire", { numberOfKeys: 1, lua: ACQUIRE_LUA });
    this.window = windowCache(
      (kind, points) =>
        new RateLimiterRedis({
          storeClient: this.client,
          points,
          duration: WINDOW_SECONDS,
          keyPrefix: `${prefix}:rl:${kind}`,
          rejectIfRedisNotReady: true,
        }),
    );
  }

  /**
   * Ready now, or — only while the very first connection is being made (start-up, a config edit) —
   * within COMMAND_TIMEOUT_MS; never waits while Redis is known to be away.
   */
  async usable(): Promise<boolean> {
    if (this.client.status === "ready") return true;
    if (!this.firstAttempt) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstReady, new Promise<void>((r) => (timer = setTimeout(r, COMMAND_TIMEOUT_MS)))]);
    clearTimeout(timer);
    return (this.client.status as string) === "ready";
  }

  private ready(): void {
    if (this.client.status !== "ready") throw new Error(`Redis connection is ${this.client.status}`);
  }

  async acquire(key: string, max: number, ttlMs: number, member: string) {
    this.ready();
    const [ok, held] = await this.client.lumenAcquire(`${this.prefix}:rl:parallel:${key}`, max, ttlMs, member);
    return { ok: ok === 1, held };
  }

  async release(key: string, member: string) {
    this.ready();
    await this.client.zrem(`${this.prefix}:rl:parallel:${key}`, member);
  }

  async close() {
    await Promise.race([this.client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1_000).unref())]);
    this.client.disconnect();
  }
}

