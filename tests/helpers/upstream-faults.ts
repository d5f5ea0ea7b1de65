/**
 * The fault suite's upstream script (chat completions only), chosen by the upstream model id. Output
 * is made of 4-character tokens ("tok "), so Lumen's bytes/4 estimate of an answer without usage
 * equals the true count and every bill can be computed exactly from the prices. Served by
 * tests/helpers/fake-upstream.ts, whose records tell "reached the upstream" from "answered".
 */
import { sleep, sseChunk, startFakeUpstream, type Exchange, type FakeUpstream, type Script } from "./fake-upstream";

export const FAULT_BEHAVIOURS = [
  "ok", // JSON, or SSE when body.stream; usage reported (SSE: only with stream_options.include_usage)
  "nousage", // JSON or SSE, never any usage
  "status-400",
  "status-429",
  "status-500",
  "hang", // never answers: Lumen's upstream_timeout_s fires
  "cut", // SSE: CUT_AFTER_CHUNKS chunks, then the socket is destroyed
  "slow", // SSE: one token every slowChunkMs, usage only at the very end
  "delay-json", // JSON with usage after delayMs
  "invalid-json", // 200 application/json that does not parse
  "huge", // JSON with usage and a content of hugeBytes
  "overrun", // ignores max_tokens: produces 10× what was asked (JSON or SSE, honest usage)
] as const;

/** What the upstream reports as prompt tokens (different from Lumen's estimate on purpose). */
export const REPORTED_PROMPT_TOKENS = 12;
/** Tokens produced when the request sets no max_tokens. */
export const DEFAULT_TOKENS = 8;
/** Upper bound on any answer, so a bug upstream of the test cannot make an unbounded loop. */
const MAX_TOKENS_PRODUCED = 20_000;
export const CUT_AFTER_CHUNKS = 3;
export const TOKEN = "tok ";

export interface FaultUpstreamOptions {
  slowChunkMs?: number;
  delayMs?: number;
  hugeBytes?: number;
}

const usageOf = (completion: number) => ({
  prompt_tokens: REPORTED_PROMPT_TOKENS,
  completion_tokens: completion,
  total_tokens: REPORTED_PROMPT_TOKENS + completion,
});

const completion = (model: string, tokens: number, withUsage: boolean) => ({
  id: "up",
  object: "chat.completion",
  created: 1,
  model,
  choices: [{ index: 0, message: { role: "assistant", content: TOKEN.repeat(tokens) }, finish_reason: "stop" }],
  ...(withUsage ? { usage: usageOf(tokens) } : {}),
});

/** The fake upstream with the fault behaviours. */
export function startFaultUpstream(opts: FaultUpstreamOptions = {}): Promise<FakeUpstream> {
  return startFakeUpstream({ models: FAULT_BEHAVIOURS, script: faultScript(opts) });
}

export function faultScript(opts: FaultUpstreamOptions = {}): Script {
  const slowChunkMs = opts.slowChunkMs ?? 100;
  const delayMs = opts.delayMs ?? 1_500;
  const hugeBytes = opts.hugeBytes ?? 8 * 1024 * 1024;

  return async (x: Exchange) => {
    if (x.req.method !== "POST" || x.path !== "/chat/completions") {
      return x.json(404, { error: { message: "not found", type: "invalid_request_error" } });
    }
    const { model: behaviour, seen, res } = x;
    const tokens = Math.min(MAX_TOKENS_PRODUCED, seen.maxTokens ?? DEFAULT_TOKENS);

    /** Writes an SSE answer of `count` tokens, `pauseMs` apart; stops when the peer leaves. */
    const sse = async (count: number, pauseMs: number, usage: boolean) => {
      x.sseHead();
      for (let i = 0; i < count && !x.gone(); i++) {
        res.write(sseChunk(behaviour, TOKEN, {}, "up"));
        if (pauseMs > 0) await sleep(pauseMs);
      }
      if (x.gone()) return;
      res.write(sseChunk(behaviour, null, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }, "up"));
      if (usage && x.wantsUsage) res.write(sseChunk(behaviour, null, { usage: usageOf(count) }, "up"));
      x.end("data: [DONE]\n\n");
    };

    switch (behaviour) {
      case "ok":
        return seen.stream ? sse(tokens, 0, true) : x.json(200, completion(behaviour, tokens, true));
      case "nousage":
        return seen.stream ? sse(tokens, 0, false) : x.json(200, completion(behaviour, tokens, false));
      case "status-400":
        return x.json(400, { error: { message: "bad temperature", type: "invalid_request_error", param: "temperature", code: "bad_temperature" } });
      case "status-429":
        return x.json(429, { error: { message: "rate limited upstream", type: "rate_limit_error", code: "rate_limit_exceeded" } });
      case "status-500":
        return x.json(500, { error: { message: "Traceback (most recent call last)", type: "server_error" } });
      case "hang":
        return; // no answer at all; Lumen aborts the request at its upstream timeout
      case "cut":
        x.sseHead();
        for (let i = 0; i < CUT_AFTER_CHUNKS; i++) res.write(sseChunk(behaviour, TOKEN, {}, "up"));
        await sleep(30);
        return void x.req.socket.destroy();
      case "slow":
        return sse(tokens, slowChunkMs, true);
      case "delay-json":
        await sleep(delayMs);
        if (x.gone()) return;
        return x.json(200, completion(behaviour, tokens, true));
      case "invalid-json":
        return x.text(200, "application/json", '{"id": "up", "choices": [ this is not json');
      case "huge":
        return x.json(200, completion(behaviour, Math.floor(hugeBytes / TOKEN.length), true));
      case "overrun": {
        const count = Math.min(MAX_TOKENS_PRODUCED, 10 * (seen.maxTokens ?? DEFAULT_TOKENS));
        return seen.stream ? sse(count, 0, true) : x.json(200, completion(behaviour, count, true));
      }
      default:
        return x.json(404, { error: { message: `unknown behaviour ${behaviour}`, type: "invalid_request_error" } });
    }
  };
}
