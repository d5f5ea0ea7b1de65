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
 */
import { and, eq } from "drizzle-orm";
import { admit, release, type Admission } from "@/lib/coins/admission";
import { costOf, estimateCost } from "@/lib/coins/cost";
import { BLOCKED_MAX } from "@/lib/coins/pool";
import { recordRefusal, settle } from "@/lib/coins/settle";
import { getConfig as liveConfig } from "@/lib/config";
import { clientEntry, findModel } from "@/lib/config/resolve";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { apiMayUse, resolveModelAccess } from "@/lib/access/resolve";
import { getDb as liveDb, type Db } from "@/lib/db/client";
import { consents } from "@/lib/db/schema";
import { log } from "@/lib/log";
import { authenticate, KeyCache, type Caller } from "./auth";
import {
  chatCompletionSchema,
  embeddingsSchema,
  readJsonObject,
  requestedMaxTokens,
  validateBody,
  type ChatCompletionBody,
} from "./body";
import { EndpointRegistry, type ChosenEndpoint } from "./endpoints";
import {
  consentRequired,
  errorResponse,
  GatewayError,
  insufficientQuota,
  methodNotAllowed,
  modelNotAllowed,
  modelNotFound,
  noHealthyEndpoint,
  upstreamClientError,
  upstreamError,
} from "./errors";
import { estimateEmbeddingTokens, estimatePromptTokens, estimateTokensFromChars } from "./tokens";
import { UpstreamConnectionError, UpstreamDeadline, type Upstream } from "./upstream";

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

export interface GatewayOptions {
  getDb: () => Promise<Db>;
  getConfig: () => LumenConfig;
  /** Defaults to a registry of this gateway (health checks start on first use). */
  endpoints?: EndpointRegistry;
  /** The key-lookup cache (auth.ts); null disables it. */
  keyCache?: KeyCache | null;
  hooks?: GatewayHooks;
  /**
   * When a successful non-streaming answer is settled. "before-answer" (default): the answer leaves
   * after its request-log row is committed, so a caller that reads the counters next sees it.
   * "after-answer": the answer leaves at once and settlement follows (saves one database round trip
   * of latency; `idle()` waits for it). Streams always settle before their last byte.
   */
  settleMode?: "before-answer" | "after-answer";
}

export interface Gateway {
  listModels(request: Request): Promise<Response>;
  /** GET /v1/models/{model}: the name is taken from the request path (it may contain "/"). */
  retrieveModel(request: Request): Promise<Response>;
  chatCompletions(request: Request): Promise<Response>;
  embeddings(request: Request): Promise<Response>;
  readonly endpoints: EndpointRegistry;
  /** Resolves when every settlement started so far has finished ("after-answer" mode). */
  idle(): Promise<void>;
  /** Stops the background health checks. */
  close(): void;
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
      await settle(ctx.db, ctx.admission, {
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

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

/** Runs an observer hook; a failing hook is logged and never affects the request. */
function observe(call: () => void): void {
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

/** Characters of generated text in a completion (message content, refusal, tool-call arguments). */
function completionChars(body: unknown): number {
  const choices = (body as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) return 0;
  let chars = 0;
  for (const c of choices) {
    const m = (c as { message?: Record<string, unknown> } | null)?.message;
    if (!m) continue;
    if (typeof m.content === "string") chars += m.content.length;
    if (typeof m.refusal === "string") chars += m.refusal.length;
    if (Array.isArray(m.tool_calls)) chars += JSON.stringify(m.tool_calls).length;
  }
  return chars;
}

function noUsage(status: number, errorCode: string | null, streamed: boolean): Outcome {
  return { status, inputTokens: 0, outputTokens: 0, usageEstimated: false, streamed, ttftMs: null, errorCode };
}

export function createGateway(opts: GatewayOptions): Gateway {
  const hooks = opts.hooks ?? {};
  const keyCache = opts.keyCache === undefined ? new KeyCache() : opts.keyCache ?? undefined;
  const registry = opts.endpoints ?? new EndpointRegistry({ getDb: opts.getDb, getConfig: opts.getConfig });
  const settleAfterAnswer = opts.settleMode === "after-answer";
  const pending = new Set<Promise<void>>();
  /** Awaits a settlement, or (after-answer mode) lets it finish in the background. */
  const settleInTime = async (work: Promise<void>) => {
    if (!settleAfterAnswer) return work;
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const refuse = async (db: Db, caller: Caller, model: string, reason: RefusalReason, error: GatewayError) => {
    try {
      await recordRefusal(db, caller.clientId);
    } catch (err) {
      log.error("refusal not recorded", { clientId: caller.clientId, error: (err as Error).message });
    }
    observe(() => hooks.refused?.({ clientId: caller.clientId, clientName: caller.clientName, model, reason }));
    return error;
  };

  /** Whether a consent is recorded for this client and model (one indexed read). */
  const hasConsent = async (db: Db, clientId: string, model: string) => {
    const [found] = await db
      .select({ model: consents.model })
      .from(consents)
      .where(and(eq(consents.clientId, clientId), eq(consents.model, model)))
      .limit(1);
    return Boolean(found);
  };

  /** Access check (SPEC §7 plus the pool): throws model_not_allowed or consent_required. */
  const checkAccess = async (db: Db, config: LumenConfig, caller: Caller, model: ModelConfig) => {
    const pool = clientEntry(config, caller.clientName).pool;
    if (!pool || pool.max === BLOCKED_MAX) {
      throw await refuse(db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
    }
    let decision = resolveModelAccess(config, caller.clientName, model.name, { consented: false });
    if (decision.status === "needs_consent" && config.api.require_consent) {
      const consented = await hasConsent(db, caller.clientId, model.name);
      decision = resolveModelAccess(config, caller.clientName, model.name, { consented });
    }
    if (apiMayUse(decision.status, config.api.require_consent)) return pool;
    if (decision.status === "needs_consent") {
      const where = `${config.app.base_url.replace(/\/+$/, "")}/clients/${caller.clientId}`;
      throw await refuse(db, caller, model.name, "consent_required", consentRequired(model.name, where));
    }
    throw await refuse(db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
  };

  /** Every check before the upstream call; the result holds a reservation and an endpoint. */
  const admitRequest = async (
    request: Request,
    kind: "chat" | "embeddings",
  ): Promise<{ ctx: Admitted; body: Record<string, unknown> }> => {
    const startedAt = performance.now();
    const config = opts.getConfig();
    const db = await opts.getDb();
    const caller = await authenticate(db, request, keyCache);
    const raw = await readJsonObject(request);

    let promptTokens: number;
    let maxTokens: number | undefined;
    let modelName: string;
    if (kind === "chat") {
      const body = validateBody(chatCompletionSchema, raw);
      modelName = body.model;
      promptTokens = estimatePromptTokens(body.messages);
      maxTokens = requestedMaxTokens(body);
    } else {
      const body = validateBody(embeddingsSchema, raw);
      modelName = body.model;
      promptTokens = estimateEmbeddingTokens(body.input);
      maxTokens = 0;
    }

    const model = findModel(config, modelName);
    if (!model || model.disabled) throw modelNotFound(modelName);
    const pool = await checkAccess(db, config, caller, model);

    const admission = await admit(db, {
      clientId: caller.clientId,
      pool,
      estimate: estimateCost(model, promptTokens, maxTokens),
      timeoutSeconds: config.api.upstream_timeout_s,
    });
    if (admission.kind === "refused") {
      throw admission.reason === "exhausted"
        ? await refuse(db, caller, model.name, "insufficient_quota", insufficientQuota(admission.retryAfterSeconds))
        : await refuse(db, caller, model.name, "model_not_allowed", modelNotAllowed(model.name));
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
        log.error("reservation release failed", { clientId: caller.clientId, error: (err as Error).message }),
      );
      throw await refuse(db, caller, model.name, "no_healthy_endpoint", noHealthyEndpoint(model.name));
    }
    return { ctx: { db, config, caller, model, admission, endpoint, startedAt, promptTokens }, body: raw };
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
      return { response: await call(chosen.upstream, deadline.signal), upstream: chosen.upstream };
    } catch (err) {
      if (!(err instanceof UpstreamConnectionError)) throw err;
      registry.reportConnectionFailure(chosen.key);
      log.warn("upstream connection failed; retrying once", { model: ctx.model.name, endpoint: chosen.upstream.label, reason: err.reason });
      const next = await registry.choose(ctx.model, chosen.key);
      if (!next) throw err;
      chosen = next;
      ctx.endpoint = next;
      try {
        return { response: await call(chosen.upstream, deadline.signal), upstream: chosen.upstream };
      } catch (again) {
        if (again instanceof UpstreamConnectionError) registry.reportConnectionFailure(chosen.key);
        throw again;
      }
    }
  };

  /** Turns an upstream failure (4xx/5xx answer) into the caller's error, settling with zero tokens. */
  const failedAnswer = async (settlement: Settlement, ctx: Admitted, upstream: Upstream, response: Response, streamed: boolean) => {
    const text = await response.text().catch(() => "");
    if (response.status >= 400 && response.status < 500) {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      const err = upstreamClientError(response.status, parsed, upstream.secrets);
      await settlement.settle(noUsage(response.status, err.code ?? "upstream_client_error", streamed), upstream);
      return errorResponse(err);
    }
    log.warn("upstream error answer", { model: ctx.model.name, endpoint: upstream.label, status: response.status });
    await settlement.settle(noUsage(502, "upstream_error", streamed), upstream);
    return errorResponse(upstreamError());
  };

  /** A call that threw: caller gone (prompt billed, never nothing), timeout or connection failure (nothing). */
  const thrownAnswer = async (settlement: Settlement, ctx: Admitted, deadline: UpstreamDeadline, err: unknown, streamed: boolean) => {
    const upstream = ctx.endpoint.upstream;
    if (deadline.cause === "caller") {
      await settlement.settle(
        { ...noUsage(499, "client_closed", streamed), inputTokens: ctx.promptTokens, usageEstimated: true },
        upstream,
      );
      return errorResponse(upstreamError());
    }
    const reason =
      deadline.cause === "timeout"
        ? "upstream_timeout"
        : err instanceof UpstreamConnectionError
          ? "upstream_unreachable"
          : null;
    if (!reason) throw err;
    log.warn("upstream call failed", { model: ctx.model.name, endpoint: upstream.label, reason });
    await settlement.settle(noUsage(502, reason, streamed), upstream);
    return errorResponse(upstreamError());
  };

  /** Non-streaming: forward the upstream's JSON as it is, bill its usage (or an estimate). */
  const forwardJson = async (
    settlement: Settlement,
    ctx: Admitted,
    deadline: UpstreamDeadline,
    upstream: Upstream,
    response: Response,
    kind: "chat" | "embeddings",
  ) => {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      if (deadline.cause) return thrownAnswer(settlement, ctx, deadline, err, false);
      log.warn("upstream answer cut off", { model: ctx.model.name, endpoint: upstream.label });
      await settlement.settle(noUsage(502, "upstream_error", false), upstream);
      return errorResponse(upstreamError());
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      log.warn("upstream answered invalid JSON", { model: ctx.model.name, endpoint: upstream.label });
      await settlement.settle(noUsage(502, "upstream_invalid_answer", false), upstream);
      return errorResponse(upstreamError());
    }
    const usage = reportedUsage((parsed as { usage?: unknown } | null)?.usage);
    const outcome: Outcome = {
      status: 200,
      inputTokens: usage?.input ?? ctx.promptTokens,
      outputTokens: kind === "embeddings" ? 0 : (usage?.output ?? estimateTokensFromChars(completionChars(parsed))),
      usageEstimated: usage === null,
      streamed: false,
      ttftMs: null,
      errorCode: null,
    };
    await settleInTime(settlement.settle(outcome, upstream));
    return new Response(text, { status: 200, headers: JSON_HEADERS });
  };

  const proxy = async (request: Request, kind: "chat" | "embeddings"): Promise<Response> => {
    const { ctx, body } = await admitRequest(request, kind);
    const settlement = new Settlement(ctx, hooks);
    const deadline = new UpstreamDeadline(request.signal, ctx.config.api.upstream_timeout_s * 1000);
    let handedToStream = false;
    try {
      const chat = kind === "chat" ? (body as ChatCompletionBody) : null;
      const streaming = chat?.stream === true;
      const callerWantsUsage = chat?.stream_options?.include_usage === true;
      const upstreamBody = streaming
        ? { ...body, stream_options: { ...(chat?.stream_options ?? {}), include_usage: true } }
        : body;

      if (request.signal.aborted) {
        // Gone before anything was sent upstream: nothing to bill.
        await settlement.release();
        return errorResponse(upstreamError());
      }
      let sent: { response: Response; upstream: Upstream };
      try {
        sent = await send(ctx, deadline, (u, signal) =>
          kind === "chat" ? u.chat(upstreamBody, signal) : u.embeddings(upstreamBody, signal),
        );
      } catch (err) {
        return await thrownAnswer(settlement, ctx, deadline, err, streaming);
      }
      const { response, upstream } = sent;
      if (!response.ok) return await failedAnswer(settlement, ctx, upstream, response, streaming);

      const isSse = (response.headers.get("content-type") ?? "").includes("text/event-stream");
      if (!streaming || !isSse || !response.body) {
        return await forwardJson(settlement, ctx, deadline, upstream, response, kind);
      }
      handedToStream = true;
      return relayStream({ response, upstream, ctx, settlement, deadline, callerWantsUsage });
    } finally {
      if (!handedToStream) {
        deadline.dispose();
        // Only reached unsettled by a bug above: the request may have reached the upstream, so it is
        // recorded (at zero cost) rather than forgotten.
        if (!settlement.settled) await settlement.settle(noUsage(500, "internal_error", false), ctx.endpoint.upstream);
      }
    }
  };

  /** The models this key may use now (not blocked, consent satisfied, client has a pool). */
  const usableModels = async (request: Request): Promise<ModelConfig[]> => {
    const config = opts.getConfig();
    const db = await opts.getDb();
    const caller = await authenticate(db, request, keyCache);
    const pool = clientEntry(config, caller.clientName).pool;
    if (!pool || pool.max === BLOCKED_MAX) return [];
    const enabled = config.models.filter((m) => !m.disabled);
    const needConsent = enabled.some(
      (m) => resolveModelAccess(config, caller.clientName, m.name, { consented: false }).status === "needs_consent",
    );
    const consented = new Set<string>();
    if (needConsent && config.api.require_consent) {
      const rows = await db.select({ model: consents.model }).from(consents).where(eq(consents.clientId, caller.clientId));
      for (const r of rows) consented.add(r.model);
    }
    return enabled.filter((m) =>
      apiMayUse(
        resolveModelAccess(config, caller.clientName, m.name, { consented: consented.has(m.name) }).status,
        config.api.require_consent,
      ),
    );
  };

  const modelObject = (m: ModelConfig) => ({ id: m.name, object: "model", created: 0, owned_by: "lumen" });

  const handle = (fn: (request: Request) => Promise<Response>) => async (request: Request) => {
    try {
      return await fn(request);
    } catch (err) {
      return errorResponse(err, { path: new URL(request.url).pathname });
    }
  };

  return {
    endpoints: registry,
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    listModels: handle(async (request) => {
      const models = await usableModels(request);
      return Response.json({ object: "list", data: models.map(modelObject) }, { headers: JSON_HEADERS });
    }),
    retrieveModel: handle(async (request) => {
      const name = modelNameFromPath(new URL(request.url).pathname);
      const models = await usableModels(request);
      const found = name === null ? undefined : models.find((m) => m.name === name);
      if (!found) throw modelNotFound(name ?? "");
      return Response.json(modelObject(found), { headers: JSON_HEADERS });
    }),
    chatCompletions: handle((request) => proxy(request, "chat")),
    embeddings: handle((request) => proxy(request, "embeddings")),
    close: () => registry.stop(),
  };
}

/** `/v1/models/org%2Fname` or `/v1/models/org/name` → "org/name"; null when malformed. */
export function modelNameFromPath(pathname: string): string | null {
  const marker = "/models/";
  const at = pathname.indexOf(marker);
  if (at < 0) return null;
  try {
    const name = pathname
      .slice(at + marker.length)
      .split("/")
      .map((s) => decodeURIComponent(s))
      .join("/");
    return name || null;
  } catch {
    return null;
  }
}

/** A handler answering 405 in the error envelope (for the methods a route does not serve). */
export function notAllowed(allowed: readonly string[]) {
  return async () => errorResponse(methodNotAllowed(allowed));
}

type GlobalGateway = { lumenGateway?: Gateway; lumenGatewayHooks?: Set<GatewayHooks> };
const globalSlot = globalThis as unknown as GlobalGateway;
const registeredHooks = (globalSlot.lumenGatewayHooks ??= new Set<GatewayHooks>());

/**
 * Observes the default gateway (e.g. Prometheus metrics). Returns an unsubscribe function. A hook
 * that throws is logged and does not affect the request.
 */
export function addGatewayHooks(hooks: GatewayHooks): () => void {
  registeredHooks.add(hooks);
  return () => registeredHooks.delete(hooks);
}

function fanOut<K extends keyof GatewayHooks>(name: K) {
  return (event: Parameters<NonNullable<GatewayHooks[K]>>[0]) => {
    for (const h of registeredHooks) observe(() => (h[name] as ((e: typeof event) => void) | undefined)?.(event));
  };
}

/** The process-wide gateway of the route handlers: live config, the app's database, registered hooks. */
export function defaultGateway(): Gateway {
  globalSlot.lumenGateway ??= createGateway({
    getDb: liveDb,
    getConfig: liveConfig,
    hooks: { refused: fanOut("refused"), settled: fanOut("settled") },
  });
  return globalSlot.lumenGateway;
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

type StreamEnd = "complete" | "upstream_failed" | "caller_gone";

/**
 * Reads the upstream's SSE as it passes through, one event at a time: picks up usage, counts the
 * generated characters (for the estimate when no usage comes), notes the first token's time, and
 * drops the usage-only chunk the caller did not ask for. Events are forwarded byte for byte.
 */
export class SseTap {
  private partial = "";
  private event = "";
  private data: string[] = [];
  usage: { input: number; output: number } | null = null;
  chars = 0;
  firstTokenAt: number | null = null;

  constructor(private readonly forwardUsage: boolean) {}

  /** Feeds decoded text; returns the complete events to forward now ("" when none). */
  push(text: string, now: number): string {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    let out = "";
    for (const line of lines) out += this.line(`${line}\n`, now);
    return out;
  }

  /** At the end of the stream: whatever incomplete event remains. */
  flush(now: number): string {
    let out = "";
    if (this.partial) out += this.line(`${this.partial}\n`, now);
    this.partial = "";
    if (this.event) out += this.dispatch(now);
    return out;
  }

  private line(raw: string, now: number): string {
    this.event += raw;
    const content = raw.replace(/\r?\n$/, "");
    if (content === "") return this.dispatch(now);
    if (content.startsWith("data:")) this.data.push(content.slice(content.startsWith("data: ") ? 6 : 5));
    return "";
  }

  private dispatch(now: number): string {
    const text = this.event;
    const data = this.data.join("\n");
    this.event = "";
    this.data = [];
    if (!data || data === "[DONE]") return text;
    let chunk: { usage?: unknown; choices?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return text;
    }
    const usage = reportedUsage(chunk?.usage);
    if (usage) this.usage = usage;
    const choices = Array.isArray(chunk?.choices) ? (chunk.choices as Array<{ delta?: Record<string, unknown> }>) : [];
    const before = this.chars;
    for (const c of choices) {
      const d = c?.delta;
      if (!d) continue;
      for (const field of ["content", "reasoning_content", "reasoning", "refusal"] as const) {
        const v = d[field];
        if (typeof v === "string") this.chars += v.length;
      }
      if (Array.isArray(d.tool_calls)) this.chars += JSON.stringify(d.tool_calls).length;
    }
    if (this.chars > before && this.firstTokenAt === null) this.firstTokenAt = now;
    if (usage && !this.forwardUsage && Array.isArray(chunk?.choices) && choices.length === 0) return "";
    return text;
  }

  /** What to record for a stream that ended this way. The caller going away always bills the prompt. */
  outcome(end: StreamEnd, ctx: Admitted, timedOut: boolean): Outcome {
    const status = end === "complete" ? 200 : end === "caller_gone" ? 499 : 502;
    const errorCode = end === "complete" ? null : end === "caller_gone" ? "client_closed" : timedOut ? "upstream_timeout" : "upstream_error";
    const ttftMs = this.firstTokenAt === null ? null : Math.max(0, Math.round(this.firstTokenAt - ctx.startedAt));
    const base = { status, errorCode, ttftMs, streamed: true };
    if (this.usage) return { ...base, inputTokens: this.usage.input, outputTokens: this.usage.output, usageEstimated: false };
    if (end === "upstream_failed" && this.chars === 0) {
      return { ...base, inputTokens: 0, outputTokens: 0, usageEstimated: false };
    }
    return {
      ...base,
      inputTokens: ctx.promptTokens,
      outputTokens: estimateTokensFromChars(this.chars),
      usageEstimated: true,
    };
  }
}

interface RelayArgs {
  response: Response;
  upstream: Upstream;
  ctx: Admitted;
  settlement: Settlement;
  deadline: UpstreamDeadline;
  callerWantsUsage: boolean;
}

/**
 * Pipes the upstream's SSE to the caller as it arrives (pull-based: the upstream is read only as
 * fast as the caller reads). Settles exactly once: at the end of the stream, when the upstream
 * fails or times out (an error event is sent, then the stream closes), or when the caller goes away
 * (request aborted or response stream cancelled; the upstream request is aborted).
 */
function relayStream(a: RelayArgs): Response {
  const reader = (a.response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const tap = new SseTap(a.callerWantsUsage);

  // The first end wins; every later path awaits the same settlement, so the stream never closes
  // before its request is recorded.
  let finishing: Promise<void> | null = null;
  const finish = (end: StreamEnd): Promise<void> =>
    (finishing ??= (async () => {
      const timedOut = a.deadline.cause === "timeout";
      a.deadline.dispose();
      await a.settlement.settle(tap.outcome(end, a.ctx, timedOut), a.upstream);
    })());
  a.deadline.onAbort((cause) => {
    reader.cancel().catch(() => {});
    void finish(cause === "caller" ? "caller_gone" : "upstream_failed");
  });

  const errorEvent = () => `data: ${JSON.stringify(upstreamError().toJSON())}\n\n`;

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // After a cancel the controller refuses writes; nobody is listening then anyway.
      const send = (text: string) => {
        try {
          if (text) controller.enqueue(encoder.encode(text));
        } catch {}
      };
      const close = () => {
        try {
          controller.close();
        } catch {}
      };
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch {
          step = { done: true, value: undefined };
          if (!a.deadline.cause) {
            log.warn("upstream stream failed", { model: a.ctx.model.name, endpoint: a.upstream.label });
            // An incomplete event is dropped so the caller's parser sees a clean error event.
            await finish("upstream_failed");
            send(errorEvent());
            return close();
          }
        }
        if (step.done) {
          // A timeout or a caller that left cancels the reader, which also ends up here.
          const cause = a.deadline.cause;
          if (!cause) send(tap.flush(performance.now()));
          await finish(cause === "timeout" ? "upstream_failed" : cause === "caller" ? "caller_gone" : "complete");
          if (cause === "timeout") {
            log.warn("upstream stream timed out", { model: a.ctx.model.name, endpoint: a.upstream.label });
            send(errorEvent());
          }
          return close();
        }
        const out = tap.push(decoder.decode(step.value, { stream: true }), performance.now());
        if (out) return send(out);
      }
    },
    async cancel() {
      a.deadline.abort("caller");
      await reader.cancel().catch(() => {});
      await finish("caller_gone");
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
