/**
 * Admission (SPEC §5): every check of a /v1 request before the upstream call, in order, the first
 * failure answers — authentication → body validation → model lookup → access → rate limits → coin
 * pool admission (from this instance's coin lease, or a reservation) → endpoint choice. A request refused here costs nothing and only counts as a
 * refusal (access.ts `refuse`); an admitted one holds a reservation and an endpoint, and the proxy
 * (proxy.ts) settles it exactly once.
 */
import { randomUUID } from "node:crypto";
import { inFlightSeconds, release, type Admission, type Refusal } from "@/lib/coins/admission";
import { admissionQueue } from "@/lib/coins/admission-queue";
import { leaseBook } from "@/lib/coins/lease";
import { hasPool } from "@/lib/coins/pool";
import { clientEntry, findModel } from "@/lib/config/resolve";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import type { Db } from "@/lib/db/client";
import { DbTimeoutError, withDbTimeout } from "@/lib/db/errors";
import { errorFields, log } from "@/lib/log";
import { checkAccess, refuse } from "./access";
import { authenticate, type KeyCache } from "./auth";
import type { ChosenEndpoint, EndpointRegistry } from "./endpoints";
import { insufficientQuota, isGatewayError, modelNotAllowed, modelNotFound, noHealthyEndpoint } from "./errors";
import type { OutputLimit } from "./limits";
import type { RateLimiter, RateTicket } from "./rate-limits";
import type { GatewayRequest } from "./request";
import type { RequestScope } from "./scope";
import type { Admitted, GatewayHooks } from "./settlement";

/** What a request's body asks for, once validated: its model, and what it may cost once that is known. */
export interface RequestPlan {
  model: string;
  price(model: ModelConfig): {
    /** The reservation: the most the request may cost. */
    estimate: string;
    /** Billed when the upstream reports no usage, or the caller leaves. */
    promptTokens: number;
    promptAudioSeconds: number;
    limit: OutputLimit;
    /** The token estimate rate limits (tpm) count at admission. */
    tokens: number;
  };
}

/** The caller's own x-request-id when it is a sane token (printable ASCII, ≤ 128), else null. */
export function callerRequestId(header: string | null): string | null {
  return header && /^[\x21-\x7e]{1,128}$/.test(header) ? header : null;
}

export interface AdmitDeps {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  hooks: GatewayHooks;
  keyCache: KeyCache | undefined;
  rateLimiter: RateLimiter;
  registry: EndpointRegistry;
}

/**
 * Every check before the upstream call; the result holds a reservation and an endpoint. `readPlan`
 * reads and validates the body (after authentication, before the model lookup).
 */
export type AdmitRequest = (
  request: GatewayRequest,
  scope: RequestScope,
  readPlan: (config: LumenConfig) => Promise<RequestPlan>,
) => Promise<Admitted>;

export function createAdmitRequest({ getDb, getConfig, hooks, keyCache, rateLimiter, registry }: AdmitDeps): AdmitRequest {
  return async (request, scope, readPlan) => {
    const config = getConfig();
    // Every database call before the upstream call gets api.db_timeout_ms: an unreachable database
    // answers 503 at once instead of holding the caller (errors.ts maps the failure).
    const inTime = <T>(work: Promise<T>) => withDbTimeout(work, config.api.db_timeout_ms);
    const db = await inTime(getDb());
    const caller = await inTime(authenticate(db, request, keyCache, undefined, config.api.monitoring.token));
    const plan = await readPlan(config);

    const model = findModel(config, plan.model);
    if (!model || model.disabled) throw modelNotFound(plan.model);
    const price = plan.price(model);
    const pool = await inTime(checkAccess(hooks, db, config, caller, model));

    let rateTicket: RateTicket | null;
    try {
      rateTicket = await rateLimiter.admit({
        clientId: caller.clientId,
        keyId: caller.keyId,
        limits: clientEntry(config, caller.clientName).limits,
        tokens: price.tokens,
        leaseMs: inFlightSeconds(config.api.upstream_timeout_s) * 1000,
      });
    } catch (err) {
      if (isGatewayError(err) && err.code === "rate_limit_exceeded") {
        throw await refuse(hooks, db, caller, model.name, "rate_limit_exceeded", err);
      }
      throw err;
    }
    if (rateTicket) Object.assign(scope.headers, rateTicket.headers);

    try {
      // The reservation: the prompt's bound plus the output limit — the number the upstream is told
      // (per answer) and the bill is capped at, so a request can never cost more than it reserved.
      // With a coin lease (capped pools, api.coin_lease.enabled) a warm lease admits in memory: no
      // database round trip before the upstream call. Otherwise one statement reserves.
      const lease = config.api.coin_lease;
      const book = lease.enabled && pool && hasPool(pool) ? leaseBook(db) : null;
      const admitting =
        book && !book.closed
          ? book.admit({
              clientId: caller.clientId,
              pool,
              estimate: price.estimate,
              maxFraction: lease.max_fraction,
              timeoutSeconds: config.api.upstream_timeout_s,
            })
          : admissionQueue(db).admit({
              clientId: caller.clientId,
              pool,
              estimate: price.estimate,
              timeoutSeconds: config.api.upstream_timeout_s,
            });
      let admission: Admission | Refusal;
      try {
        admission = await inTime(admitting);
      } catch (err) {
        // Answered 503; a reservation that still lands later is given back.
        if (err instanceof DbTimeoutError) {
          void admitting.then((late) => (late.kind === "reserved" || late.kind === "leased" ? release(db, late) : undefined)).catch(() => {});
        }
        throw err;
      }
      if (admission.kind === "refused") {
        throw admission.reason === "exhausted"
          ? await refuse(hooks, db, caller, model.name, "insufficient_quota", insufficientQuota(admission.retryAfterSeconds))
          : await refuse(hooks, db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
      }

      let endpoint: ChosenEndpoint | null;
      try {
        endpoint = await registry.choose(model);
      } catch (err) {
        await release(db, admission).catch(() => {});
        throw err;
      }
      if (!endpoint) {
        await release(db, admission).catch((err: unknown) =>
          log.error("reservation release failed", { clientId: caller.clientId, ...errorFields(err) }),
        );
        throw await refuse(hooks, db, caller, model.name, "no_healthy_endpoint", noHealthyEndpoint(model.name));
      }
      const requestId = scope.requestId;
      const settlementId = callerRequestId(request.header("x-request-id")) === requestId ? randomUUID() : requestId;
      return {
        db, config, caller, model, admission, endpoint, startedAt: scope.startedAt, admittedAt: Date.now(),
        promptTokens: price.promptTokens, promptAudioSeconds: price.promptAudioSeconds, limit: price.limit,
        requestId, settlementId, scope, rateTicket,
      };
    } catch (err) {
      rateTicket?.finish(null);
      throw err;
    }
  };
}
