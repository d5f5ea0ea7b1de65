/**
 * Endpoint choice and health (SPEC §5 "Load balancing and health").
 *
 * - A model's healthy endpoints are used round-robin.
 * - Health lives in memory (per process) and is written to the `endpoints` table for the console.
 *   An endpoint is healthy when `GET {url}/models` answers 2xx within 5 s and lists the expected id
 *   (the endpoint's `model`, else the public model name). `builtin:echo` is always healthy.
 * - The background check runs every 60 s, started lazily by the first request (unref'd timer, so it
 *   never keeps a process alive). An endpoint never checked by this process (a new one, or any one at
 *   startup) is checked synchronously on first use before it is trusted; concurrent requests share
 *   that check.
 * - A connection failure during a request triggers an immediate re-check in the background.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import type { EndpointConfig, LumenConfig, ModelConfig } from "@/lib/config/schema";
import { ENDPOINT_BUILTIN_ECHO } from "@/lib/config/schema";
import { endpoints as endpointsTable, models as modelsTable } from "@/lib/db/schema";
import { errorFields, log } from "@/lib/log";
import { readCapped } from "./answers";
import { upstreamFor, UpstreamConnectionError, type Upstream } from "./upstream";

/** A health check reads at most this much of an upstream's model list. */
const MODELS_LIST_LIMIT_BYTES = 16 * 1024 * 1024;

export const HEALTH_INTERVAL_MS = 60_000;
export const HEALTH_TIMEOUT_MS = 5_000;

export interface ChosenEndpoint {
  /** Identity of the endpoint within the registry (for "retry on the next one"). */
  key: string;
  upstream: Upstream;
}

interface EndpointState {
  key: string;
  model: string;
  endpoint: EndpointConfig;
  upstream: Upstream;
  expectedId: string;
  /** null: never checked by this process. */
  healthy: boolean | null;
  lastError: string | null;
  checking: Promise<void> | null;
  /** Still in the config at the last sweep. */
  seen: boolean;
}

export interface EndpointRegistryOptions {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  intervalMs?: number;
  checkTimeoutMs?: number;
  /** Builds the upstream of an endpoint (tests may substitute). */
  upstreamFor?: (endpoint: EndpointConfig, modelName: string) => Upstream;
}

export interface EndpointHealth {
  model: string;
  label: string;
  healthy: boolean | null;
  lastError: string | null;
}

function stateKey(model: string, ep: EndpointConfig): string {
  // The key (and so a fresh check) changes whenever anything about the endpoint changes in config.
  return JSON.stringify([model, ep.url, ep.model ?? null, ep.api_key ?? null, ep.latency_ms ?? null, ep.chunk_delay_ms ?? null]);
}

export class EndpointRegistry {
  private readonly states = new Map<string, EndpointState>();
  private readonly cursors = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly checkTimeoutMs: number;
  private readonly build: (endpoint: EndpointConfig, modelName: string) => Upstream;

  constructor(private readonly opts: EndpointRegistryOptions) {
    this.intervalMs = opts.intervalMs ?? HEALTH_INTERVAL_MS;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? HEALTH_TIMEOUT_MS;
    this.build = opts.upstreamFor ?? upstreamFor;
  }

  /**
   * The next healthy endpoint of the model (round-robin), or null when none is healthy. `exclude`
   * skips an endpoint that just failed, unless it is the only healthy one.
   */
  async choose(model: ModelConfig, exclude?: string): Promise<ChosenEndpoint | null> {
    this.start();
    const states = model.endpoints.map((ep) => this.stateOf(model.name, ep));
    const unchecked = states.filter((s) => s.healthy === null);
    if (unchecked.length > 0) await Promise.all(unchecked.map((s) => this.check(s)));
    let healthy = states.filter((s) => s.healthy === true);
    if (exclude !== undefined && healthy.length > 1) healthy = healthy.filter((s) => s.key !== exclude);
    if (healthy.length === 0) return null;
    const cursor = this.cursors.get(model.name) ?? 0;
    this.cursors.set(model.name, (cursor + 1) % 1_000_000_000);
    const chosen = healthy[cursor % healthy.length]!;
    return { key: chosen.key, upstream: chosen.upstream };
  }

  /** A request could not connect to this endpoint: check it again now (in the background). */
  reportConnectionFailure(key: string): void {
    const state = this.states.get(key);
    if (state) void this.check(state);
  }

  /** Starts the periodic check (once; idempotent) and runs a first sweep in the background. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
    this.timer.unref?.();
    void this.checkAll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Checks every endpoint of every enabled model in the current config; forgets removed ones. */
  async checkAll(): Promise<void> {
    let config: LumenConfig;
    try {
      config = this.opts.getConfig();
    } catch {
      return;
    }
    for (const s of this.states.values()) s.seen = false;
    const pending: Promise<void>[] = [];
    for (const model of config.models) {
      if (model.disabled) continue;
      for (const ep of model.endpoints) pending.push(this.check(this.stateOf(model.name, ep)));
    }
    for (const [key, s] of this.states) if (!s.seen) this.states.delete(key);
    await Promise.all(pending);
  }

  /** What this process currently believes (for tests and diagnostics). */
  snapshot(): EndpointHealth[] {
    return [...this.states.values()].map((s) => ({
      model: s.model,
      label: s.upstream.label,
      healthy: s.healthy,
      lastError: s.lastError,
    }));
  }

  private stateOf(model: string, ep: EndpointConfig): EndpointState {
    const key = stateKey(model, ep);
    let state = this.states.get(key);
    if (!state) {
      const echo = ep.url === ENDPOINT_BUILTIN_ECHO;
      state = {
        key,
        model,
        endpoint: ep,
        upstream: this.build(ep, model),
        expectedId: ep.model ?? model,
        healthy: echo ? true : null,
        lastError: null,
        checking: null,
        seen: true,
      };
      this.states.set(key, state);
    }
    state.seen = true;
    return state;
  }

  /** One health check of an endpoint; concurrent callers share it. Never throws. */
  private check(state: EndpointState): Promise<void> {
    if (state.checking) return state.checking;
    const run = async () => {
      const result =
        state.endpoint.url === ENDPOINT_BUILTIN_ECHO
          ? { healthy: true, error: null }
          : await probe(state.upstream, state.expectedId, this.checkTimeoutMs);
      if (state.healthy !== result.healthy && state.healthy !== null) {
        log.warn(result.healthy ? "endpoint healthy again" : "endpoint unhealthy", {
          model: state.model,
          endpoint: state.upstream.label,
          error: result.error,
        });
      }
      state.healthy = result.healthy;
      state.lastError = result.error;
      await this.persist(state).catch((err: unknown) =>
        log.warn("endpoint health not saved", {
          model: state.model,
          endpoint: state.upstream.label,
          ...errorFields(err),
        }),
      );
    };
    state.checking = run().finally(() => {
      state.checking = null;
    });
    return state.checking;
  }

  /** Upserts the endpoint's row (and its model's row, which the foreign key needs). */
  private async persist(state: EndpointState): Promise<void> {
    const db = await this.opts.getDb();
    const upstreamModel = state.endpoint.model ?? null;
    const url = storedUrl(state.endpoint.url, state.upstream.label);
    const values = { healthy: state.healthy, lastCheckAt: new Date(), lastError: state.lastError };
    await db.insert(modelsTable).values({ name: state.model }).onConflictDoNothing();
    // The unique index treats NULL upstream models as distinct, so ON CONFLICT cannot be used:
    // update first, insert when there was nothing to update.
    const match = and(
      eq(endpointsTable.model, state.model),
      eq(endpointsTable.url, url),
      upstreamModel === null ? isNull(endpointsTable.upstreamModel) : eq(endpointsTable.upstreamModel, upstreamModel),
    );
    const updated = await db.update(endpointsTable).set(values).where(match).returning({ one: sql<number>`1` });
    if (updated.length === 0) {
      await db
        .insert(endpointsTable)
        .values({ model: state.model, url, upstreamModel, ...values })
        .onConflictDoNothing();
    }
  }
}

/**
 * The URL kept in the table: the configured one, so the console can match it to config.yaml, unless
 * it carries credentials or a query (then the label without them).
 */
function storedUrl(url: string, label: string): string {
  return url.replace(/\/+$/, "") === label ? url : label;
}

/** `GET {url}/models` within `timeoutMs`: healthy when 2xx and `expectedId` is listed. */
async function probe(upstream: Upstream, expectedId: string, timeoutMs: number): Promise<{ healthy: boolean; error: string | null }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await upstream.listModels(signal);
    if (!res.ok) {
      res.body?.destroy();
      return { healthy: false, error: `GET /models answered HTTP ${res.status}` };
    }
    const body = JSON.parse((await readCapped(res, MODELS_LIST_LIMIT_BYTES)) ?? "null") as { data?: Array<{ id?: unknown }> } | null;
    const ids = Array.isArray(body?.data) ? body.data.map((m) => m?.id) : [];
    return ids.includes(expectedId)
      ? { healthy: true, error: null }
      : { healthy: false, error: `GET /models does not list "${expectedId}"` };
  } catch (err) {
    if (signal.aborted) return { healthy: false, error: `no answer to GET /models within ${timeoutMs / 1000} s` };
    if (err instanceof UpstreamConnectionError) return { healthy: false, error: `connection failed (${err.reason})` };
    return { healthy: false, error: "GET /models gave an invalid answer" };
  }
}
