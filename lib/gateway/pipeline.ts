/**
 * The /v1 request pipeline (SPEC §5). Order of checks, the first failure answers:
 * authentication → body validation → model lookup → access → coin pool admission → endpoint choice
 * → upstream call → settlement.
 *
 * Accounting: a request refused before the upstream call costs nothing and only counts as a refusal.
 * A request that reached the upstream is settled exactly once (`Settlement` guards it), whatever
 * happens: success, upstream 4xx/5xx, timeout, connection failure, a dropped stream, a caller that
 * goes away. Settlement replaces the reservation by the true cost in one transaction with the log
 * row and the counters (lib/coins/settle.ts).
 *
 * `createGateway` takes its database and config as functions, so tests drive it over real HTTP with
 * their own; the route handlers use `defaultGateway()` (process-wide, live config).
 *
 * Every endpoint runs through the same steps: the JSON ones (chat, legacy completions, Responses,
 * embeddings) each described by a dialect (dialects.ts), the audio ones by audio.ts. Rate limits
 * (rate-limits.ts) are checked between the access check and the coin admission.
 *
 * The pieces: access.ts (access check, refusals), settlement.ts (`Settlement`, hooks, outcomes),
 * answers.ts (non-streaming answers), stream.ts (SSE relay) and stream-readers.ts (each API's events),
 * models.ts (GET /v1/models), limits.ts (the output limit: sent upstream, reserved, never billed
 * beyond), tokens.ts (the prompt's bound and typical count), scope.ts (x-request-id, Lumen's own time).
 */
import { randomUUID } from "node:crypto";
import { release, type Admission, type Refusal } from "@/lib/coins/admission";
import { admissionQueue } from "@/lib/coins/admission-queue";
import { costOf } from "@/lib/coins/cost";
import { getConfig as liveConfig } from "@/lib/config";
import { clientEntry, findModel } from "@/lib/config/resolve";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { getDb as liveDb, type Db } from "@/lib/db/client";
import { DbTimeoutError, withDbTimeout } from "@/lib/db/errors";
import { errorFields, log } from "@/lib/log";
import { processState } from "@/lib/process-state";
import { checkAccess, refuse } from "./access";
import { failedAnswer, forwardJson, thrownAnswer } from "./answers";
import { audioEstimate, forwardAudio, readAudioPlan, type AudioPlan } from "./audio";
import { authenticate, KeyCache } from "./auth";
import { readJsonObject } from "./body";
import { chatDialect, completionsDialect, embeddingsDialect, responsesDialect, type BodyPlan, type Dialect } from "./dialects";
import { EndpointRegistry, type ChosenEndpoint } from "./endpoints";
import {
  errorResponse,
  isGatewayError,
  insufficientQuota,
  methodNotAllowed,
  modelNotAllowed,
  modelNotFound,
  noHealthyEndpoint,
  routeNotFound,
  shuttingDown,
  upstreamError,
} from "./errors";
import { listModels, retrieveModel, type ModelDeps } from "./models";
import { observe, Settlement, type Admitted, type GatewayHooks } from "./settlement";
import { noUsage } from "./usage";
import { RateLimiter, type RateTicket } from "./rate-limits";
import { fromFetchRequest, isFetchRequest, type GatewayRequest } from "./request";
import { RequestScope } from "./scope";
import { relayStream } from "./stream";
import { NO_OUTPUT, outputLimit, type OutputLimit } from "./limits";
import type { AudioPath } from "./upstream-interface";
import { UpstreamConnectionError, UpstreamDeadline, type Upstream } from "./upstream";

export type { Admitted, GatewayHooks, Outcome, RefusalReason, RequestRecord } from "./settlement";

export interface GatewayOptions {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  /** Defaults to a registry of this gateway (health checks start on first use). */
  endpoints?: EndpointRegistry;
  /** The key-lookup cache (auth.ts); null disables it. */
  keyCache?: KeyCache | null;
  hooks?: GatewayHooks;
  /**
   * When a successful answer is settled. "before-answer" (the default, and the server's): a JSON
   * answer leaves, and a stream sends its last bytes, once its request-log row is committed — so an
   * answer delivered with 200 is always in the log, even if the process is killed right after
   * (SPEC §6). The wait is bounded by `api.db_timeout_ms`: a database that is slow or away does not
   * hold the answer; its settlement goes on being retried (settle-queue.ts) and `idle()` and the
   * shutdown wait for it. "after-answer" (benchmarks, to measure the difference): the answer leaves
   * at once and the settlement follows. Either way the settlement is one transaction with the log
   * row and the counters, keyed by the request's settlement id.
   */
  settleMode?: "before-answer" | "after-answer";
  /**
   * The rate limiter (rate-limits.ts). The default gateway shares the process's (closed by the
   * runtime's shutdown); otherwise the gateway makes its own and `close()` closes it.
   */
  rateLimiter?: RateLimiter;
}

/** What a request's body asks for, once validated: its model, and what it may cost once that is known. */
interface RequestPlan {
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

/** One exchange with an upstream, as the proxy drives it (JSON dialects, audio). */
interface Exchange {
  ctx: Admitted;
  streaming: boolean;
  call(upstream: Upstream, signal: AbortSignal): Promise<Response>;
  /** The caller's answer from an upstream 2xx; `streamed` when a relay took over the settlement. */
  answer(args: { response: Response; upstream: Upstream; settlement: Settlement; deadline: UpstreamDeadline }): Promise<{ response: Response; streamed: boolean }>;
}

export interface Gateway {
  listModels(request: Request | GatewayRequest): Promise<Response>;
  /** GET /v1/models/{model}: the name is taken from the request path (it may contain "/"). */
  retrieveModel(request: Request | GatewayRequest): Promise<Response>;
  chatCompletions(request: Request | GatewayRequest): Promise<Response>;
  completions(request: Request | GatewayRequest): Promise<Response>;
  responses(request: Request | GatewayRequest): Promise<Response>;
  embeddings(request: Request | GatewayRequest): Promise<Response>;
  audioTranscriptions(request: Request | GatewayRequest): Promise<Response>;
  audioTranslations(request: Request | GatewayRequest): Promise<Response>;
  /** A /v1 path that is not in the route table (routes.ts): 404 not_found. */
  notFound(request: Request | GatewayRequest): Promise<Response>;
  /** A /v1 path served with other methods: 405 method_not_allowed with `Allow`. */
  methodNotAllowed(allowed: readonly string[]): (request: Request | GatewayRequest) => Promise<Response>;
  /**
   * Drops a key (by its hash) or every key of a client from this gateway's key cache, so that a
   * revocation or deactivation made in this process applies to the very next request (other
   * instances see it within AUTH_CACHE_TTL_MS).
   */
  forgetKey(keyHash: string): void;
  forgetClient(clientId: string): void;
  readonly endpoints: EndpointRegistry;
  /** Resolves when every settlement started so far has finished (retries included). */
  idle(): Promise<void>;
  /** Requests between admission and settlement right now. */
  readonly inFlight: number;
  /**
   * Shutdown, step by step (lib/runtime.ts): `drain()` makes new calls answer 503 (the server stops
   * accepting first); `abortInFlight()` aborts the upstream calls still running, each through its own
   * abort path, so each settles (a stream bills what it delivered, as when its upstream fails).
   */
  drain(): void;
  abortInFlight(): void;
  /** Stops the background health checks (and closes the gateway's own rate limiter, if it made one). */
  close(): void;
}

/** The caller's own x-request-id when it is a sane token (printable ASCII, ≤ 128), else null. */
export function callerRequestId(header: string | null): string | null {
  return header && /^[\x21-\x7e]{1,128}$/.test(header) ? header : null;
}

export function createGateway(opts: GatewayOptions): Gateway {
  const hooks = opts.hooks ?? {};
  const keyCache = opts.keyCache === undefined ? new KeyCache() : opts.keyCache ?? undefined;
  const registry = opts.endpoints ?? new EndpointRegistry({ getDb: opts.getDb, getConfig: opts.getConfig });
  const rateLimiter = opts.rateLimiter ?? new RateLimiter(opts.getConfig);
  const settleAfterAnswer = opts.settleMode === "after-answer";
  const pending = new Set<Promise<void>>();
  /** Upstream calls in progress, by their deadline (each one's abort path). */
  const inFlight = new Set<UpstreamDeadline>();
  let draining = false;
  /** Awaits a settlement, or (after-answer mode) lets it finish in the background. */
  const settleInTime = async (work: Promise<void>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
    if (settleAfterAnswer) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, opts.getConfig().api.db_timeout_ms);
    });
    await Promise.race([work, bound]);
    clearTimeout(timer);
  };

  /**
   * Every check before the upstream call; the result holds a reservation and an endpoint. `readPlan`
   * reads and validates the body (after authentication, before the model lookup).
   */
  const admitRequest = async (
    request: GatewayRequest,
    scope: RequestScope,
    readPlan: (config: LumenConfig) => Promise<RequestPlan>,
  ): Promise<Admitted> => {
    const config = opts.getConfig();
    // Every database call before the upstream call gets api.db_timeout_ms: an unreachable database
    // answers 503 at once instead of holding the caller (errors.ts maps the failure).
    const inTime = <T>(work: Promise<T>) => withDbTimeout(work, config.api.db_timeout_ms);
    const db = await inTime(opts.getDb());
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
        leaseMs: (config.api.upstream_timeout_s + 60) * 1000,
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
      const admitting = admissionQueue(db).admit({
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
          void admitting.then((late) => (late.kind === "reserved" ? release(db, late) : undefined)).catch(() => {});
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

  /**
   * Sends to the chosen endpoint; a connection failure (no response at all) is retried once on the
   * next healthy endpoint (the same one when it is the only one).
   */
  const send = async (
    ctx: Admitted,
    deadline: UpstreamDeadline,
    call: (u: Upstream, signal: AbortSignal) => Promise<Response>,
  ): Promise<{ response: Response; upstream: Upstream }> => {
    let chosen = ctx.endpoint;
    try {
      return { response: await ctx.scope.upstream(call(chosen.upstream, deadline.signal)), upstream: chosen.upstream };
    } catch (err) {
      if (!(err instanceof UpstreamConnectionError)) throw err;
      registry.reportConnectionFailure(chosen.key);
      log.warn("upstream connection failed; retrying once", { model: ctx.model.name, endpoint: chosen.upstream.label, reason: err.reason });
      const next = await registry.choose(ctx.model, chosen.key);
      if (!next) throw err;
      chosen = next;
      ctx.endpoint = next;
      try {
        return { response: await ctx.scope.upstream(call(chosen.upstream, deadline.signal)), upstream: chosen.upstream };
      } catch (again) {
        if (again instanceof UpstreamConnectionError) registry.reportConnectionFailure(chosen.key);
        throw again;
      }
    }
  };

  /** Sends an admitted request upstream and answers; settles it exactly once whatever happens. */
  const proxy = async (exchange: Exchange, request: GatewayRequest): Promise<Response> => {
    const { ctx } = exchange;
    const settlement = new Settlement(ctx, hooks);
    const deadline = new UpstreamDeadline(request.signal, ctx.config.api.upstream_timeout_s * 1000);
    inFlight.add(deadline);
    settlement.onDone(() => inFlight.delete(deadline));
    if (draining) deadline.abort("shutdown");
    let handedToStream = false;
    try {
      if (request.signal.aborted || deadline.cause === "shutdown") {
        // Gone (or shutting down) before anything was sent upstream: nothing to bill.
        await settlement.release();
        return errorResponse(deadline.cause === "shutdown" ? shuttingDown() : upstreamError());
      }
      let sent: { response: Response; upstream: Upstream };
      try {
        sent = await send(ctx, deadline, exchange.call);
      } catch (err) {
        return await thrownAnswer(settlement, ctx, deadline, err, exchange.streaming);
      }
      const { response, upstream } = sent;
      if (!response.ok) return await failedAnswer(settlement, ctx, upstream, response, exchange.streaming);
      const answered = await exchange.answer({ response, upstream, settlement, deadline });
      handedToStream = answered.streamed;
      return answered.response;
    } finally {
      if (!handedToStream) {
        deadline.dispose();
        // Only reached unsettled by a bug above: the request may have reached the upstream, so it is
        // recorded (at zero cost) rather than forgotten.
        if (!settlement.settled) await settlement.settle(noUsage(500, "internal_error", false), ctx.endpoint.upstream);
      }
    }
  };

  /** A JSON endpoint (chat, legacy completions, Responses, embeddings), as its dialect describes it. */
  const proxyJson = async (request: GatewayRequest, scope: RequestScope, dialect: Dialect): Promise<Response> => {
    let body: Record<string, unknown> = {};
    let plan: BodyPlan | null = null;
    const ctx = await admitRequest(request, scope, async (config) => {
      body = await readJsonObject(request);
      const p = dialect.plan(body, config.api.max_n);
      plan = p;
      return {
        model: p.model,
        price: (model) => {
          const limit = p.noOutput ? NO_OUTPUT : outputLimit(model, p.requested, p.choices);
          return {
            estimate: costOf(model, p.prompt.bound, limit.total),
            promptTokens: p.prompt.typical,
            promptAudioSeconds: 0,
            limit,
            tokens: p.prompt.typical + limit.total,
          };
        },
      };
    });
    const bodyPlan = plan as unknown as BodyPlan;
    const upstreamBody = dialect.upstreamBody(body, ctx.limit);
    return proxy(
      {
        ctx,
        streaming: bodyPlan.streaming,
        call: (u, signal) => u.post({ path: dialect.path, json: upstreamBody }, signal),
        answer: async ({ response, upstream, settlement, deadline }) => {
          const isSse = (response.headers.get("content-type") ?? "").includes("text/event-stream");
          if (!bodyPlan.streaming || !isSse || !response.body || !dialect.streamReader) {
            return { response: await forwardJson(settlement, ctx, deadline, upstream, response, dialect, settleInTime), streamed: false };
          }
          const reader = dialect.streamReader({ limit: ctx.limit, forwardUsage: bodyPlan.callerWantsUsage, model: ctx.model.name });
          return { response: relayStream({ response, upstream, ctx, settlement, deadline, reader, allowance: bodyPlan.allowance, settleInTime }), streamed: true };
        },
      },
      request,
    );
  };

  /** POST /v1/audio/transcriptions and /v1/audio/translations (audio.ts). */
  const proxyAudio = async (request: GatewayRequest, scope: RequestScope, path: AudioPath): Promise<Response> => {
    let plan: AudioPlan | null = null;
    const ctx = await admitRequest(request, scope, async () => {
      const p = await readAudioPlan(request);
      plan = p;
      return {
        model: p.model,
        price: (model) => ({
          estimate: audioEstimate(model, p),
          promptTokens: 0,
          promptAudioSeconds: p.seconds.typical,
          // Transcripts are not limited by an output field; token bills are taken as reported.
          limit: { perChoice: Number.MAX_SAFE_INTEGER, choices: 1, total: Number.MAX_SAFE_INTEGER },
          tokens: 0,
        }),
      };
    });
    const audioPlan = plan as unknown as AudioPlan;
    return proxy(
      {
        ctx,
        streaming: false,
        call: (u, signal) => u.post({ path, form: audioPlan.upload }, signal),
        answer: async ({ response, upstream, settlement, deadline }) => ({
          response: await forwardAudio(settlement, ctx, deadline, upstream, response, audioPlan, settleInTime),
          streamed: false,
        }),
      },
      request,
    );
  };

  /**
   * Every /v1 answer carries x-request-id (the caller's own when it sent a sane one, else a new uuid),
   * x-lumen-overhead-ms (Lumen's own time, scope.ts), the rate-limit headers when a limit applies, and
   * is never cached or content-sniffed.
   */
  const handle =
    (fn: (request: GatewayRequest, scope: RequestScope) => Promise<Response>) => async (request: Request | GatewayRequest) => {
      const r = isFetchRequest(request) ? fromFetchRequest(request) : request;
      const scope = new RequestScope(callerRequestId(r.header("x-request-id")) ?? randomUUID());
      let response: Response;
      try {
        response = draining ? errorResponse(shuttingDown()) : await fn(r, scope);
      } catch (err) {
        response = errorResponse(err, { path: new URL(r.url).pathname, requestId: scope.requestId });
      }
      for (const [name, value] of Object.entries(scope.headers)) if (!response.headers.has(name)) response.headers.set(name, value);
      response.headers.set("x-request-id", scope.requestId);
      response.headers.set("x-lumen-overhead-ms", scope.overheadMs());
      response.headers.set("x-content-type-options", "nosniff");
      response.headers.set("cache-control", "no-store");
      return response;
    };

  const models: ModelDeps = { getDb: opts.getDb, getConfig: opts.getConfig, keyCache };

  return {
    endpoints: registry,
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    get inFlight() {
      return inFlight.size;
    },
    drain: () => {
      draining = true;
    },
    abortInFlight: () => {
      draining = true;
      for (const deadline of [...inFlight]) deadline.abort("shutdown");
    },
    listModels: handle((request) => listModels(models, request)),
    retrieveModel: handle((request) => retrieveModel(models, request)),
    chatCompletions: handle((request, scope) => proxyJson(request, scope, chatDialect)),
    completions: handle((request, scope) => proxyJson(request, scope, completionsDialect)),
    responses: handle((request, scope) => proxyJson(request, scope, responsesDialect)),
    embeddings: handle((request, scope) => proxyJson(request, scope, embeddingsDialect)),
    audioTranscriptions: handle((request, scope) => proxyAudio(request, scope, "/audio/transcriptions")),
    audioTranslations: handle((request, scope) => proxyAudio(request, scope, "/audio/translations")),
    notFound: handle(async (request) => {
      throw routeNotFound(request.method ?? "GET", new URL(request.url).pathname);
    }),
    methodNotAllowed: (allowed) =>
      handle(async () => {
        throw methodNotAllowed(allowed);
      }),
    forgetKey: (hash) => keyCache?.forget(hash),
    forgetClient: (clientId) => keyCache?.forgetClient(clientId),
    close: () => {
      registry.stop();
      if (!opts.rateLimiter) void rateLimiter.close();
    },
  };
}

/**
 * Observes the default gateway (e.g. Prometheus metrics). Returns an unsubscribe function. A hook
 * that throws is logged and does not affect the request.
 */
export function addGatewayHooks(hooks: GatewayHooks): () => void {
  const registered = processState().gatewayHooks;
  registered.add(hooks);
  return () => registered.delete(hooks);
}

function fanOut<K extends keyof GatewayHooks>(name: K) {
  return (event: Parameters<NonNullable<GatewayHooks[K]>>[0]) => {
    for (const h of processState().gatewayHooks) observe(() => (h[name] as ((e: typeof event) => void) | undefined)?.(event));
  };
}

/** The process-wide gateway of the server and the route handlers: live config, the app's database, registered hooks. */
export function defaultGateway(): Gateway {
  const state = processState();
  state.gateway ??= createGateway({
    getDb: liveDb,
    getConfig: liveConfig,
    hooks: { refused: fanOut("refused"), settled: fanOut("settled") },
    rateLimiter: (state.rateLimiter ??= new RateLimiter(liveConfig)),
  });
  return state.gateway;
}
