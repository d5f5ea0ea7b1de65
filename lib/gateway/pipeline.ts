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
 * The pieces: admit.ts (every check before the upstream call, the reservation), proxy.ts (the
 * upstream call, its one retry, the answer's relay), access.ts (access check, refusals),
 * settlement.ts (`Settlement`, hooks, outcomes), answers.ts (non-streaming answers), stream.ts (SSE
 * relay) and stream-readers.ts (each API's events), models.ts (GET /v1/models), limits.ts (the
 * output limit: sent upstream, reserved, never billed beyond), tokens.ts (the prompt's bound and
 * typical count), scope.ts (x-request-id, Lumen's own time).
 */
import { randomUUID } from "node:crypto";
import { getConfig as liveConfig } from "@/lib/config";
import type { LumenConfig } from "@/lib/config/schema";
import { getDb as liveDb, type Db } from "@/lib/db/client";
import { processState } from "@/lib/process-state";
import { callerRequestId, createAdmitRequest } from "./admit";
import { KeyCache } from "./auth";
import { chatDialect, completionsDialect, embeddingsDialect, responsesDialect } from "./dialects";
import { EndpointRegistry } from "./endpoints";
import { toResponse, type Answer } from "./answer";
import { errorAnswer, methodNotAllowed, routeNotFound, shuttingDown } from "./errors";
import { listModels, retrieveModel, type ModelDeps } from "./models";
import { createProxies, type ProxyState } from "./proxy";
import { observe, type GatewayHooks } from "./settlement";
import { RateLimiter } from "./rate-limits";
import { fromFetchRequest, isFetchRequest, type GatewayRequest } from "./request";
import { RequestScope } from "./scope";

export { callerRequestId } from "./admit";
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

/**
 * One gateway call. Given a Fetch `Request` (the route handlers under Next, tests) it answers a
 * `Response`; given a GatewayRequest (server.ts through node.ts) it answers the pipeline's own
 * `Answer` (answer.ts), which node.ts writes without building a `Response`.
 */
export interface GatewayCall {
  (request: Request): Promise<Response>;
  (request: GatewayRequest): Promise<Answer>;
}

export interface Gateway {
  listModels: GatewayCall;
  /** GET /v1/models/{model}: the name is taken from the request path (it may contain "/"). */
  retrieveModel: GatewayCall;
  chatCompletions: GatewayCall;
  completions: GatewayCall;
  responses: GatewayCall;
  embeddings: GatewayCall;
  audioTranscriptions: GatewayCall;
  audioTranslations: GatewayCall;
  /** A /v1 path that is not in the route table (routes.ts): 404 not_found. */
  notFound: GatewayCall;
  /** A /v1 path served with other methods: 405 method_not_allowed with `Allow`. */
  methodNotAllowed(allowed: readonly string[]): GatewayCall;
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

export function createGateway(opts: GatewayOptions): Gateway {
  const hooks = opts.hooks ?? {};
  const keyCache = opts.keyCache === undefined ? new KeyCache() : opts.keyCache ?? undefined;
  const registry = opts.endpoints ?? new EndpointRegistry({ getDb: opts.getDb, getConfig: opts.getConfig });
  const rateLimiter = opts.rateLimiter ?? new RateLimiter(opts.getConfig);
  const settleAfterAnswer = opts.settleMode === "after-answer";
  const pending = new Set<Promise<void>>();
  const state: ProxyState = { draining: false, inFlight: new Set() };
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
  const admitRequest = createAdmitRequest({ getDb: opts.getDb, getConfig: opts.getConfig, hooks, keyCache, rateLimiter, registry });
  const { proxyJson, proxyAudio } = createProxies({ hooks, registry, admitRequest, settleInTime, state });

  /**
   * Every /v1 answer carries x-request-id (the caller's own when it sent a sane one, else a new uuid),
   * x-lumen-overhead-ms (Lumen's own time, scope.ts), the rate-limit headers when a limit applies, and
   * is never cached or content-sniffed.
   */
  const handle = (fn: (request: GatewayRequest, scope: RequestScope) => Promise<Answer>): GatewayCall => {
    const answer = async (r: GatewayRequest): Promise<Answer> => {
      const scope = new RequestScope(callerRequestId(r.header("x-request-id")) ?? randomUUID());
      let answer: Answer;
      try {
        answer = state.draining ? errorAnswer(shuttingDown()) : await fn(r, scope);
      } catch (err) {
        answer = errorAnswer(err, { path: new URL(r.url).pathname, requestId: scope.requestId });
      }
      const headers = answer.headers;
      for (const name in scope.headers) headers[name] ??= scope.headers[name]!;
      headers["x-request-id"] = scope.requestId;
      headers["x-lumen-overhead-ms"] = scope.overheadMs();
      headers["x-content-type-options"] = "nosniff";
      headers["cache-control"] = "no-store";
      return answer;
    };
    return ((request: Request | GatewayRequest) =>
      isFetchRequest(request) ? answer(fromFetchRequest(request)).then(toResponse) : answer(request)) as GatewayCall;
  };

  const models: ModelDeps = { getDb: opts.getDb, getConfig: opts.getConfig, keyCache };

  return {
    endpoints: registry,
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    get inFlight() {
      return state.inFlight.size;
    },
    drain: () => {
      state.draining = true;
    },
    abortInFlight: () => {
      state.draining = true;
      for (const deadline of [...state.inFlight]) deadline.abort("shutdown");
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
