/**
 * A scripted OpenAI-compatible upstream for the fault suite: one node:http server on 127.0.0.1 whose
 * behaviour is chosen by the upstream model id (the `model:` of a Lumen endpoint, which Lumen sends
 * as body.model). Output is made of 4-character tokens ("tok "), so Lumen's bytes/4 estimate of an
 * answer without usage equals the true count and every bill can be computed exactly from the prices.
 *
 * It records every chat request (behaviour, max_tokens, n) and whether its answer was written to
 * the end, so tests can tell "reached the upstream" from "answered".
 */
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

export const BEHAVIOURS = [
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
export type Behaviour = (typeof BEHAVIOURS)[number];

/** What the upstream reports as prompt tokens (different from Lumen's estimate on purpose). */
export const REPORTED_PROMPT_TOKENS = 12;
/** Tokens produced when the request sets no max_tokens. */
export const DEFAULT_TOKENS = 8;
/** Upper bound on any answer, so a bug upstream of the test cannot make an unbounded loop. */
const MAX_TOKENS_PRODUCED = 20_000;
export const CUT_AFTER_CHUNKS = 3;
export const TOKEN = "tok ";

export interface UpstreamOptions {
  slowChunkMs?: number;
  delayMs?: number;
  hugeBytes?: number;
}

export interface SeenRequest {
  behaviour: string;
  stream: boolean;
  /** max_tokens (or max_completion_tokens) as Lumen sent it; null when absent. */
  maxTokens: number | null;
  n: number | null;
  /** The answer was written to its end (false: still running, cut on purpose, or the peer left). */
  completed: boolean;
  /** The peer (Lumen) closed the connection before the answer ended. */
  closedEarly: boolean;
}

export interface ScriptedUpstream {
  /** Base URL for Lumen endpoints: http://127.0.0.1:PORT/v1 */
  url: string;
  seen: SeenRequest[];
  /** Chat requests received / answered to the end since the last reset(). */
  received(): number;
  completed(): number;
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tokensAsked(body: Record<string, unknown>): number | null {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}

const chunk = (model: string, content: string | null, extra: Record<string, unknown> = {}) => {
  const choices = content === null ? [] : [{ index: 0, delta: { content }, finish_reason: null }];
  return `data: ${JSON.stringify({ id: "up", object: "chat.completion.chunk", created: 1, model, choices, ...extra })}\n\n`;
};

const finalChunk = (model: string, reason: string) =>
  `data: ${JSON.stringify({ id: "up", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: reason }] })}\n\n`;

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

export async function startUpstream(opts: UpstreamOptions = {}): Promise<ScriptedUpstream> {
  const slowChunkMs = opts.slowChunkMs ?? 100;
  const delayMs = opts.delayMs ?? 1_500;
  const hugeBytes = opts.hugeBytes ?? 8 * 1024 * 1024;
  let seen: SeenRequest[] = [];

  const server = http.createServer(async (req, res) => {
    let text = "";
    for await (const part of req) text += part;
    const path = (req.url ?? "").replace(/^\/v1/, "");
    if (req.method === "GET" && path === "/models") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ object: "list", data: BEHAVIOURS.map((id) => ({ id, object: "model" })) }));
    }
    if (req.method !== "POST" || path !== "/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
    }
    const body = JSON.parse(text || "{}") as Record<string, unknown>;
    const behaviour = String(body.model);
    const stream = body.stream === true;
    const asked = tokensAsked(body);
    const record: SeenRequest = {
      behaviour,
      stream,
      maxTokens: asked,
      n: typeof body.n === "number" ? body.n : null,
      completed: false,
      closedEarly: false,
    };
    seen.push(record);
    let gone = false;
    res.on("close", () => {
      if (!res.writableFinished) record.closedEarly = gone = true;
    });
    const done = (payload?: string) => {
      res.end(payload, () => (record.completed = true));
    };
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      done(JSON.stringify(value));
    };
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const tokens = Math.min(MAX_TOKENS_PRODUCED, asked ?? DEFAULT_TOKENS);

    /** Writes an SSE answer of `count` tokens, `pauseMs` apart; stops when the peer leaves. */
    const sse = async (count: number, pauseMs: number, usage: boolean) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < count && !gone; i++) {
        res.write(chunk(behaviour, TOKEN));
        if (pauseMs > 0) await sleep(pauseMs);
      }
      if (gone) return;
      res.write(finalChunk(behaviour, "stop"));
      if (usage && wantsUsage) res.write(chunk(behaviour, null, { usage: usageOf(count) }));
      done("data: [DONE]\n\n");
    };

    switch (behaviour) {
      case "ok":
        return stream ? sse(tokens, 0, true) : json(200, completion(behaviour, tokens, true));
      case "nousage":
        return stream ? sse(tokens, 0, false) : json(200, completion(behaviour, tokens, false));
      case "status-400":
        return json(400, { error: { message: "bad temperature", type: "invalid_request_error", param: "temperature", code: "bad_temperature" } });
      case "status-429":
        return json(429, { error: { message: "rate limited upstream", type: "rate_limit_error", code: "rate_limit_exceeded" } });
      case "status-500":
        return json(500, { error: { message: "Traceback (most recent call last)", type: "server_error" } });
      case "hang":
        return; // no answer at all; Lumen aborts the request at its upstream timeout
      case "cut":
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (let i = 0; i < CUT_AFTER_CHUNKS; i++) res.write(chunk(behaviour, TOKEN));
        await sleep(30);
        return void req.socket.destroy();
      case "slow":
        return sse(tokens, slowChunkMs, true);
      case "delay-json":
        await sleep(delayMs);
        if (gone) return;
        return json(200, completion(behaviour, tokens, true));
      case "invalid-json":
        res.writeHead(200, { "content-type": "application/json" });
        return done('{"id": "up", "choices": [ this is not json');
      case "huge": {
        const count = Math.floor(hugeBytes / TOKEN.length);
        return json(200, completion(behaviour, count, true));
      }
      case "overrun": {
        const count = Math.min(MAX_TOKENS_PRODUCED, 10 * (asked ?? DEFAULT_TOKENS));
        return stream ? sse(count, 0, true) : json(200, completion(behaviour, count, true));
      }
      default:
        return json(404, { error: { message: `unknown behaviour ${behaviour}`, type: "invalid_request_error" } });
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get seen() {
      return seen;
    },
    received: () => seen.length,
    completed: () => seen.filter((s) => s.completed).length,
    reset: () => {
      seen = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
