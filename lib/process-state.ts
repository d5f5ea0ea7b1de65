/**
 * What this process holds once — database, gateway, metrics, start-up, background timers — in ONE
 * globalThis slot. A slot is needed at all because Next's server bundles and server.ts's bundle each
 * carry their own copy of every module, so a module-level variable would exist twice. Only
 * lib/runtime.ts starts and tears down what is here; the modules that own a part read it lazily.
 *
 * A leaf module (type imports only): lib/db/client.ts and lib/gateway/pipeline.ts read it without
 * importing the runtime. lib/config keeps its own slot because middleware imports it and must stay
 * light (no database, no gateway).
 */
import type { DbHandle } from "@/lib/db/client";
import type { Gateway, GatewayHooks } from "@/lib/gateway/pipeline";
import type { RateLimiter } from "@/lib/gateway/rate-limits";

export interface ProcessState {
  /** The database, opened on first use (lib/db/client.ts getDbHandle). */
  db?: Promise<DbHandle>;
  /** PGlite's WebAssembly, compiled ahead by the production server (lib/db/pglite-warm.ts); null when that failed. */
  pgliteWasm?: Promise<WebAssembly.Module | null>;
  /** The gateway of the server and the route handlers (lib/gateway/pipeline.ts defaultGateway). */
  gateway?: Gateway;
  gatewayHooks: Set<GatewayHooks>;
  /** The rate limiter and its Redis connection (lib/gateway/rate-limits.ts), closed by the shutdown. */
  rateLimiter?: RateLimiter;
  /** The Prometheus registry and metrics (lib/metrics.ts). */
  metrics?: unknown;
  /** Start-up, once (lib/runtime.ts start). */
  started?: Promise<void>;
  /** Open coin-lease books (lib/coins/lease.ts), whose leases the shutdown returns. */
  leaseBooks?: Set<{ close(): Promise<void> }>;
  /** The reservation sweeper's timer. */
  sweeper?: NodeJS.Timeout;
  /** The request log's partition upkeep timer (lib/db/partitions.ts). */
  logUpkeep?: NodeJS.Timeout;
  /** Shutdown, once (lib/runtime.ts shutdown). */
  stopping?: Promise<void>;
  /** The addresses the HTTP server listens on (server.ts, before start-up); unknown under `next dev`. */
  listenHosts?: string[];
  /** Start-up milestones, ms since the process started (markStartup); server.ts logs them once ready. */
  startup?: Record<string, number>;
}

const KEY = Symbol.for("lumen.process");

export function processState(): ProcessState {
  const g = globalThis as unknown as Record<symbol, ProcessState | undefined>;
  return (g[KEY] ??= { gatewayHooks: new Set() });
}

/** Records a start-up milestone (ms since the process started) for the "startup phases" log line. */
export function markStartup(name: string): void {
  (processState().startup ??= {})[name] = Math.round(performance.now());
}
