/**
 * Settlement bookkeeping of the /v1 pipeline: what happened to a request that reached an upstream
 * (`Outcome`), the observer hooks, and `Settlement`, which records a request exactly once, whatever
 * happens (lib/coins/settle.ts does the transaction; lib/coins/settle-queue.ts groups concurrent
 * settlements into one statement).
 */
import { release, type Admission } from "@/lib/coins/admission";
import { costOf } from "@/lib/coins/cost";
import { settleQueue } from "@/lib/coins/settle-queue";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import type { Db } from "@/lib/db/client";
import { log } from "@/lib/log";
import type { Caller } from "./auth";
import type { ChosenEndpoint } from "./endpoints";
import type { Upstream } from "./upstream";

export type RefusalReason =
  | "model_not_allowed"
  | "consent_required"
  | "insufficient_quota"
  | "no_healthy_endpoint";

/** What happened to one request that reached an upstream (as written to the request log). */
export interface Outcome {
  status: number;
  inputTokens: number;
  outputTokens: number;
  usageEstimated: boolean;
  streamed: boolean;
  ttftMs: number | null;
  errorCode: string | null;
}

export interface SettledEvent extends Outcome {
  clientId: string;
  clientName: string;
  keyId: string;
  model: string;
  endpoint: string;
  coins: string;
  durationMs: number;
}

/** Observers (metrics). Called synchronously; must not throw. */
export interface GatewayHooks {
  refused?(event: { clientId: string; clientName: string; model: string; reason: RefusalReason }): void;
  settled?(event: SettledEvent): void;
}

/** A request that passed every check before the upstream call; it holds a reservation. */
export interface Admitted {
  db: Db;
  config: LumenConfig;
  caller: Caller;
  model: ModelConfig;
  admission: Admission;
  endpoint: ChosenEndpoint;
  startedAt: number;
  promptTokens: number;
}

/** Settles a request exactly once; later calls are no-ops. Never throws (failures are logged). */
export class Settlement {
  private done = false;

  constructor(
    private readonly ctx: Admitted,
    private readonly hooks: GatewayHooks,
  ) {}

  get settled(): boolean {
    return this.done;
  }

  async settle(outcome: Outcome, upstream: Upstream): Promise<void> {
    if (this.done) return;
    this.done = true;
    const { ctx } = this;
    const billable = outcome.inputTokens > 0 || outcome.outputTokens > 0;
    const event: SettledEvent = {
      ...outcome,
      clientId: ctx.caller.clientId,
      clientName: ctx.caller.clientName,
      keyId: ctx.caller.keyId,
      model: ctx.model.name,
      endpoint: upstream.label,
      coins: billable ? costOf(ctx.model, outcome.inputTokens, outcome.outputTokens) : "0",
      durationMs: Math.max(0, Math.round(performance.now() - ctx.startedAt)),
    };
    try {
      await settleQueue(ctx.db).settle(ctx.admission, {
        clientId: event.clientId,
        keyId: event.keyId,
        model: event.model,
        endpoint: event.endpoint,
        status: event.status,
        inputTokens: event.inputTokens,
        outputTokens: event.outputTokens,
        coins: event.coins,
        durationMs: event.durationMs,
        ttftMs: event.ttftMs,
        streamed: event.streamed,
        usageEstimated: event.usageEstimated,
        errorCode: event.errorCode ?? undefined,
      });
    } catch (err) {
      // The reservation stays held; the sweeper returns it after the upstream timeout.
      log.error("settlement failed", { clientId: event.clientId, model: event.model, error: (err as Error).message });
      return;
    }
    observe(() => this.hooks.settled?.(event));
  }

  /** Gives the reservation back: the request never reached an upstream. */
  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await release(this.ctx.db, this.ctx.admission);
    } catch (err) {
      log.error("reservation release failed", { clientId: this.ctx.caller.clientId, error: (err as Error).message });
    }
  }
}

/** Runs an observer hook; a failing hook is logged and never affects the request. */
export function observe(call: () => void): void {
  try {
    call();
  } catch (err) {
    log.error("gateway hook failed", { error: (err as Error).message });
  }
}

/** A non-negative whole number, or undefined. */
const count = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;

/** Token usage as an upstream reported it; null when absent or unusable. */
export function reportedUsage(usage: unknown): { input: number; output: number } | null {
  if (typeof usage !== "object" || usage === null) return null;
  const u = usage as Record<string, unknown>;
  const input = count(u.prompt_tokens);
  if (input === undefined) return null;
  return { input, output: count(u.completion_tokens) ?? 0 };
}

export function noUsage(status: number, errorCode: string | null, streamed: boolean): Outcome {
  return { status, inputTokens: 0, outputTokens: 0, usageEstimated: false, streamed, ttftMs: null, errorCode };
}
