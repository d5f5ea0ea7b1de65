/**
 * The upstream call and the answer's relay (SPEC §5): an admitted request (admit.ts) is sent to its
 * endpoint, a connection failure retried once on the next healthy one, and the answer relayed —
 * JSON (answers.ts), SSE (stream.ts) or audio (audio.ts). The request is settled exactly once
 * (`Settlement`), whatever happens: success, upstream 4xx/5xx, timeout, connection failure, a
 * dropped stream, a caller that goes away, a shutdown.
 */
import { costOf } from "@/lib/coins/cost";
import { log } from "@/lib/log";
import type { AdmitRequest } from "./admit";
import { failedAnswer, forwardJson, thrownAnswer } from "./answers";
import { audioEstimate, forwardAudio, readAudioPlan, type AudioPlan } from "./audio";
import { readJsonObject } from "./body";
import type { BodyPlan, Dialect } from "./dialects";
import type { EndpointRegistry } from "./endpoints";
import { errorAnswer, shuttingDown, upstreamError } from "./errors";
import { NO_OUTPUT, outputLimit } from "./limits";
import type { GatewayRequest } from "./request";
import type { RequestScope } from "./scope";
import { Settlement, type Admitted, type GatewayHooks } from "./settlement";
import { relayStream } from "./stream";
import { UpstreamConnectionError, UpstreamDeadline, type Upstream, type UpstreamAnswer } from "./upstream";
import type { Answer } from "./answer";
import type { AudioPath } from "./upstream-interface";
import { noUsage } from "./usage";

/** One exchange with an upstream, as the proxy drives it (JSON dialects, audio). */
interface Exchange {
  ctx: Admitted;
  streaming: boolean;
  call(upstream: Upstream, signal: AbortSignal): Promise<UpstreamAnswer>;
  /** The caller's answer from an upstream 2xx; `streamed` when a relay took over the settlement. */
  answer(args: { response: UpstreamAnswer; upstream: Upstream; settlement: Settlement; deadline: UpstreamDeadline }): Promise<{ response: Answer; streamed: boolean }>;
}

/** The gateway's shutdown state, shared with pipeline.ts (`drain()`, `abortInFlight()`, `inFlight`). */
export interface ProxyState {
  draining: boolean;
  /** Upstream calls in progress, by their deadline (each one's abort path). */
  readonly inFlight: Set<UpstreamDeadline>;
}

export interface ProxyDeps {
  hooks: GatewayHooks;
  registry: EndpointRegistry;
  admitRequest: AdmitRequest;
  /** Awaits a settlement, or (after-answer mode) lets it finish in the background. */
  settleInTime: (work: Promise<void>) => Promise<void>;
  state: ProxyState;
}

export interface Proxies {
  /** A JSON endpoint (chat, legacy completions, Responses, embeddings), as its dialect describes it. */
  proxyJson(request: GatewayRequest, scope: RequestScope, dialect: Dialect): Promise<Answer>;
  /** POST /v1/audio/transcriptions and /v1/audio/translations (audio.ts). */
  proxyAudio(request: GatewayRequest, scope: RequestScope, path: AudioPath): Promise<Answer>;
}

export function createProxies({ hooks, registry, admitRequest, settleInTime, state }: ProxyDeps): Proxies {
  /**
   * Sends to the chosen endpoint; a connection failure (no response at all) is retried once on the
   * next healthy endpoint (the same one when it is the only one).
   */
  const send = async (
    ctx: Admitted,
    deadline: UpstreamDeadline,
    call: (u: Upstream, signal: AbortSignal) => Promise<UpstreamAnswer>,
  ): Promise<{ response: UpstreamAnswer; upstream: Upstream }> => {
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
  const proxy = async (exchange: Exchange, request: GatewayRequest): Promise<Answer> => {
    const { ctx } = exchange;
    const settlement = new Settlement(ctx, hooks);
    const deadline = new UpstreamDeadline(request.signal, ctx.config.api.upstream_timeout_s * 1000);
    state.inFlight.add(deadline);
    settlement.onDone(() => state.inFlight.delete(deadline));
    if (state.draining) deadline.abort("shutdown");
    let handedToStream = false;
    try {
      if (request.signal.aborted || deadline.cause === "shutdown") {
        // Gone (or shutting down) before anything was sent upstream: nothing to bill.
        await settlement.release();
        return errorAnswer(deadline.cause === "shutdown" ? shuttingDown() : upstreamError());
      }
      let sent: { response: UpstreamAnswer; upstream: Upstream };
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
  const proxyJson = async (request: GatewayRequest, scope: RequestScope, dialect: Dialect): Promise<Answer> => {
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
          const isSse = (response.header("content-type") ?? "").includes("text/event-stream");
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
  const proxyAudio = async (request: GatewayRequest, scope: RequestScope, path: AudioPath): Promise<Answer> => {
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

  return { proxyJson, proxyAudio };
}
