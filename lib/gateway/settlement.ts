/**
 * Settlement bookkeeping of the /v1 pipeline: what happened to a request that reached an upstream
 * (`Outcome`), the observer hooks, and `Settlement`, which records a request exactly once, whatever
 * happens (lib/coins/settle.ts does the transaction; lib/coins/settle-queue.ts groups concurrent
 * settlements into one statement).
 */
import { inFlightSeconds, release, type Admission } from "@/lib/coins/admission";
import { requestCost } from "@/lib/coins/cost";
import { leaseAbandoned } from "@/lib/coins/lease";
import type { Outcome, RequestRecord } from "@/lib/coins/request-record";
import { settleQueue } from "@/lib/coins/settle-queue";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import type { Db } from "@/lib/db/client";
import { describeDbError } from "@/lib/db/errors";
import { errorFields, log } from "@/lib/log";
import type { Caller } from "./auth";
import type { ChosenEndpoint } from "./endpoints";
import { withinLimit, type OutputLimit } from "./limits";
import type { RateTicket } from "./rate-limits";
import type { RequestScope } from "./scope";
import type { Upstream } from "./upstream";

export type RefusalReason =
  | "model_not_allowed"
  | "consent_required"
  | "insufficient_quota"
  | "rate_limit_exceeded"
  | "no_healthy_endpoint";

export type { Outcome, RequestRecord } from "@/lib/coins/request-record";

/** Observers (metrics). Called synchronously; must not throw. */
export interface GatewayHooks {
  refused?(event: { clientId: string; clientName: string; model: string; reason: RefusalReason }): void;
  settled?(record: RequestRecord): void;
}

/** A request that passed every check before the upstream call; it holds a reservation. */
export interface Admitted {
  db: Db;
  config: LumenConfig;
  caller: Caller;
  model: ModelConfig;
  admission: Admission;
  endpoint: ChosenEndpoint;
  /** performance.now() when the request arrived (durations). */
  startedAt: number;
  /** Date.now() at admission: the reservation expires upstream_timeout_s + 60 s later. */
  admittedAt: number;
  /** The prompt's typical token count (tokens.ts), billed when the upstream reports no usage. */
  promptTokens: number;
  /** An audio upload's typical seconds (audio.ts), billed like the prompt when the caller leaves; 0 for text. */
  promptAudioSeconds: number;
  /** Output allowed (limits.ts): sent upstream, and never billed beyond. */
  limit: OutputLimit;
  /** The x-request-id the caller gets (its own, or settlementId). */
  requestId: string;
  /** Lumen's own id of the request: the request log's unique key, which makes settlement idempotent. */
  settlementId: string;
  /** The request's scope: its id, its answer's headers, Lumen's own time (x-lumen-overhead-ms). */
  scope: RequestScope;
  /** Its share of the rate-limit counters (null: no limit applies), corrected or given back when it ends. */
  rateTicket: RateTicket | null;
}

/**
 * Retrying an unreachable database stops this long before the reservation would expire — but never
 * sooner than MIN_RETRY_MS after the answer (README: "billed exactly once if the database is back
 * within 60 s of the answer"). Retrying past the expiry is still safe: a reservation another instance
 * swept is not credited again, and the request is charged its full cost.
 */
const RETRY_MARGIN_MS = 5_000;
const MIN_RETRY_MS = 60_000;

/** Settles a request exactly once; later calls are no-ops. Never throws (failures are logged). */
export class Settlement {
  private done = false;
  private readonly whenDone: Array<() => void> = [];

  constructor(
    private readonly ctx: Admitted,
    private readonly hooks: GatewayHooks,
  ) {}

  get settled(): boolean {
    return this.done;
  }

  /** Called once the request is recorded, given back, or given up on (in-flight bookkeeping). */
  onDone(callback: () => void): void {
    this.whenDone.push(callback);
  }

  private finished(): void {
    for (const callback of this.whenDone.splice(0)) observe(callback);
  }

  async settle(reported: Outcome, upstream: Upstream): Promise<void> {
    if (this.done) return;
    this.done = true;
    const { ctx } = this;
    const outcome = withinLimit(reported, ctx.limit, { model: ctx.model.name, endpoint: upstream.label });
    const billable = outcome.inputTokens > 0 || outcome.outputTokens > 0 || (outcome.billAudio === true && (outcome.audioSeconds ?? 0) > 0);
    ctx.rateTicket?.finish(outcome.inputTokens + outcome.outputTokens);
    const { billAudio: _billAudio, ...recorded } = outcome;
    const record: RequestRecord = {
      ...recorded,
      settlementId: ctx.settlementId,
      requestId: ctx.requestId,
      clientId: ctx.caller.clientId,
      clientName: ctx.caller.clientName,
      keyId: ctx.caller.keyId,
      model: ctx.model.name,
      endpoint: upstream.label,
      coins: billable ? requestCost(ctx.model, outcome) : "0",
      durationMs: Math.max(0, Math.round(performance.now() - ctx.startedAt)),
    };
    const retryUntil = ctx.admittedAt + inFlightSeconds(ctx.config.api.upstream_timeout_s) * 1000 - RETRY_MARGIN_MS;
    try {
      await settleQueue(ctx.db).settle(ctx.admission, record, { retryUntil: Math.max(retryUntil, Date.now() + MIN_RETRY_MS) });
    } catch (err) {
      // Given up (the database stayed away past the retry window, or a bug): the reservation stays
      // and the sweeper returns it; a coin lease is retired and returned (memory cannot tell whether
      // the lost attempt was charged; the database's lease row can). The ids let an operator
      // reconcile; no key material is logged.
      leaseAbandoned(ctx.admission);
      log.error("settlement lost", {
        clientId: record.clientId,
        model: record.model,
        settlementId: record.settlementId,
        requestId: record.requestId,
        coins: record.coins,
        ...describeDbError(err),
      });
      return;
    } finally {
      this.finished();
    }
    observe(() => this.hooks.settled?.(record));
  }

  /** Gives the reservation back: the request never reached an upstream. */
  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.ctx.rateTicket?.finish(null);
    try {
      await release(this.ctx.db, this.ctx.admission);
    } catch (err) {
      log.error("reservation release failed", { clientId: this.ctx.caller.clientId, ...describeDbError(err) });
    } finally {
      this.finished();
    }
  }
}

/** Runs an observer hook; a failing hook is logged and never affects the request. */
export function observe(call: () => void): void {
  try {
    call();
  } catch (err) {
    log.error("gateway hook failed", { ...errorFields(err) });
  }
}
