/**
 * The one fake OpenAI-compatible upstream of the integration tests, the fault suite and the benches:
 * a node:http server on 127.0.0.1 that reads each request (JSON, or a multipart audio upload), keeps a
 * record of it and lets a script answer it — usually by the upstream model id, which is the `model:`
 * of a Lumen endpoint and reaches the upstream as body.model. `GET /v1/models` lists the script's ids
 * (Lumen's endpoint health check). The scripts: tests/helpers/upstream-api.ts (every /v1 endpoint,
 * misbehaving on purpose), tests/helpers/upstream-faults.ts (the fault suite's exact-count answers)
 * and `fixedLatencyChat` below (the benches).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import busboy from "busboy";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SeenRequest {
  method: string;
  /** Without the /v1 prefix, e.g. "/chat/completions". */
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  contentLength: string | undefined;
  /** A JSON body; for an audio upload its text fields, and `file` = {name, type, size}. */
  body: Record<string, unknown>;
  /** body.model: the behaviour the script chose. */
  behaviour: string;
  stream: boolean;
  /** max_tokens (or max_completion_tokens) as Lumen sent it; null when absent. */
  maxTokens: number | null;
  n: number | null;
  /** The answer was written to its end (false: still running, cut on purpose, or the peer left). */
  completed: boolean;
  /** The peer (Lumen) closed the connection before the answer ended. */
  closedEarly: boolean;
  /** Settles when the connection closes: true when that was before the answer ended. */
  closed: Promise<boolean>;
}

/** One request as a script sees it, with the ways to answer it. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  path: string;
  body: Record<string, unknown>;
  model: string;
  seen: SeenRequest;
  /** This upstream's base URL (http://127.0.0.1:PORT/v1). */
  url: string;
  /** The request asked for a usage chunk (stream_options.include_usage). */
  wantsUsage: boolean;
  /** The peer has gone (the connection closed before the answer ended). */
  gone(): boolean;
  json(status: number, value: unknown): void;
  text(status: number, type: string, body: string): void;
  sseHead(headers?: http.OutgoingHttpHeaders): void;
  /** Ends the answer (it counts as completed once written). */
  end(payload?: string): void;
}

export type Script = (x: Exchange) => void | Promise<void>;

export interface FakeUpstreamOptions {
  /** Model ids listed by GET /v1/models. */
  models: readonly string[];
  script: Script;
  /** Keep every request in `seen` (default true; the benches turn it off). */
  record?: boolean;
}

export interface FakeUpstream {
  /** Base URL for Lumen endpoints: http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  readonly seen: SeenRequest[];
  /** Requests received / answered to the end since the last reset(). */
  received(): number;
  completed(): number;
  reset(): void;
  close(): Promise<void>;
}

/** Reads a multipart upload as the audio endpoints send it: text fields, and the file's name, type and size. */
function readMultipart(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const out: Record<string, unknown> = {};
    const parser = busboy({ headers: req.headers });
    parser.on("field", (name, value) => (out[name] = value));
    parser.on("file", (name, stream, info) => {
      let size = 0;
      stream.on("data", (c: Buffer) => (size += c.byteLength));
      stream.on("end", () => (out[name] = { name: info.filename, type: info.mimeType, size }));
    });
    parser.on("close", () => resolve(out));
    parser.on("error", reject);
    req.pipe(parser);
  });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text || "{}") as Record<string, unknown>;
  } catch {
    return null;
  }
}

function tokensAsked(body: Record<string, unknown>): number | null {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : null;
}

const jsonError = (res: http.ServerResponse, status: number, message: string) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { message, type: "invalid_request_error" } }));
};

export async function startFakeUpstream(opts: FakeUpstreamOptions): Promise<FakeUpstream> {
  const record = opts.record ?? true;
  let seen: SeenRequest[] = [];
  let url = "";

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? "").replace(/^\/v1/, "");
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/models") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ object: "list", data: opts.models.map((id) => ({ id, object: "model", created: 0, owned_by: "upstream" })) }));
    }
    const body = path.startsWith("/audio/") ? await readMultipart(req) : await readJson(req);
    if (body === null) return jsonError(res, 400, "invalid JSON");
    let closedWith: (early: boolean) => void = () => {};
    const seenRequest: SeenRequest = {
      method,
      path,
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      contentLength: req.headers["content-length"],
      body,
      behaviour: String(body.model),
      stream: body.stream === true,
      maxTokens: tokensAsked(body),
      n: typeof body.n === "number" ? body.n : null,
      completed: false,
      closedEarly: false,
      closed: new Promise<boolean>((resolve) => (closedWith = resolve)),
    };
    if (record) seen.push(seenRequest);
    res.on("close", () => {
      if (!res.writableFinished) seenRequest.closedEarly = true;
      closedWith(seenRequest.closedEarly);
    });
    const end = (payload?: string) => void res.end(payload, () => (seenRequest.completed = true));
    await opts.script({
      req,
      res,
      path,
      body,
      model: seenRequest.behaviour,
      seen: seenRequest,
      url,
      wantsUsage: (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      gone: () => seenRequest.closedEarly || res.destroyed,
      json(status, value) {
        res.writeHead(status, { "content-type": "application/json" });
        end(JSON.stringify(value));
      },
      text(status, type, text) {
        res.writeHead(status, { "content-type": type });
        end(text);
      },
      sseHead: (headers = {}) => void res.writeHead(200, { "content-type": "text/event-stream", ...headers }),
      end,
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}/v1`;
  return {
    url,
    port,
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

/** A chat.completion.chunk event as upstreams stream it (`content` null: no choice, e.g. the usage chunk). */
export function sseChunk(model: string, content: string | null, extra: Record<string, unknown> = {}, id = "up-1") {
  const choices = content === null ? [] : [{ index: 0, delta: { content }, finish_reason: null }];
  return `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model, choices, ...extra })}\n\n`;
}

export interface FixedLatencyOptions {
  /** Wait before the JSON answer, or before the first token (headers go at once, as real model servers do). */
  latencyMs: number;
  words: readonly string[];
  usage: { prompt: number; completion: number };
}

/**
 * The benches' upstream: every chat completion answers `words` after a fixed latency, with usage
 * (in the stream only when asked); any other path is 404.
 */
export function fixedLatencyChat(o: FixedLatencyOptions): Script {
  const usage = { prompt_tokens: o.usage.prompt, completion_tokens: o.usage.completion, total_tokens: o.usage.prompt + o.usage.completion };
  const later = (fn: () => void): void => void (o.latencyMs > 0 ? setTimeout(fn, o.latencyMs) : setImmediate(fn));
  return (x) => {
    if (x.req.method !== "POST" || x.path !== "/chat/completions") return x.json(404, { error: { message: "not found", type: "invalid_request_error" } });
    const id = "chatcmpl-bench";
    const created = Math.floor(Date.now() / 1000);
    if (!x.seen.stream) {
      return later(() =>
        x.json(200, {
          id,
          object: "chat.completion",
          created,
          model: x.model,
          choices: [{ index: 0, message: { role: "assistant", content: o.words.join("") }, finish_reason: "stop" }],
          usage,
        }),
      );
    }
    x.sseHead({ "cache-control": "no-cache" });
    x.res.flushHeaders();
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: x.model, choices, ...extra })}\n\n`;
    later(() => {
      if (x.res.destroyed) return;
      x.res.write(event([{ index: 0, delta: { role: "assistant", content: o.words[0] }, finish_reason: null }]));
      for (const w of o.words.slice(1)) x.res.write(event([{ index: 0, delta: { content: w }, finish_reason: null }]));
      x.res.write(event([{ index: 0, delta: {}, finish_reason: "stop" }]));
      if (x.wantsUsage) x.res.write(event([], { usage }));
      x.end("data: [DONE]\n\n");
    });
  };
}
