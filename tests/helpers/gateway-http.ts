/**
 * The gateway over real HTTP, for the integration tests: a node:http server in front of a Gateway
 * (the production adapter for what server.ts serves, Fetch Requests for the rest), and a scripted
 * upstream that misbehaves on purpose, its behaviour chosen by the upstream model id.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { gatewayRoute, serveGateway as serveNodeRequest } from "@/lib/gateway/node";
import type { Gateway } from "@/lib/gateway/pipeline";
import { gatewayHandler } from "@/lib/gateway/routes";

export const UPSTREAM_KEY = "sk-upstream-secret-4f1e";
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// node:http ⇄ web Request/Response
// ---------------------------------------------------------------------------

/** As the dev server's catch-all route (app/v1/[[...path]]/route.ts) serves a Fetch Request. */
async function route(gw: Gateway, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const handler = gatewayHandler(gw, request.method, url.pathname + url.search);
  return handler ? handler(request) : new Response("not found", { status: 404 });
}

/**
 * The request body as a web stream. (Readable.toWeb throws "Controller is already closed" on Node 20
 * when the consumer cancels while data still arrives, which the 10 MB cap does on purpose.) After a
 * cancel the rest of the upload is discarded so the 413 answer can still be written.
 */
function requestBody(req: http.IncomingMessage): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (cancelled) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => {
        if (!cancelled) controller.close();
      });
      req.on("error", (err) => {
        if (!cancelled) controller.error(err);
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      cancelled = true;
      req.resume();
    },
  }, { highWaterMark: 4 });
}

export async function serveGateway(gw: Gateway): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    // What server.ts serves itself goes through the production adapter (lib/gateway/node.ts)…
    const handler = gatewayRoute(gw, req.method, req.url);
    if (handler) return void serveNodeRequest(handler, req, res, `http://${req.headers.host}`);
    // …the rest (405s, unknown paths) as the route handlers get it under Next: a Fetch Request.
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    const method = req.method ?? "GET";
    const init: RequestInit & { duplex?: "half" } = { method, headers, signal: controller.signal };
    if (method !== "GET" && method !== "HEAD") {
      init.body = requestBody(req);
      init.duplex = "half";
    }
    const response = await route(gw, new Request(`http://${req.headers.host}${req.url}`, init));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return void res.end();
    const reader = response.body.getReader();
    res.on("close", () => {
      if (!res.writableFinished) reader.cancel().catch(() => {});
    });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) await once(res, "drain");
      }
      res.end();
    } catch {
      res.destroy();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// A local upstream that misbehaves on purpose (behaviour chosen by the upstream model id)
// ---------------------------------------------------------------------------

export interface SeenRequest {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
  /** Resolves true when the upstream's response was cut off by the gateway (socket closed early). */
  closedEarly: Promise<boolean>;
}

const LISTED = ["ok", "nousage", "fail-400", "fail-500", "hang", "drop", "stall", "slow", "conn-reset", "emb", "overrun", "huge"];

/** "overrun" answers this many times the max_tokens it was sent. */
export const OVERRUN_FACTOR = 10;
/** "huge" answers a JSON body of about this many bytes (unless cut off). */
export const HUGE_ANSWER_BYTES = 4 * 1024 * 1024;

export function sseChunk(model: string, content: string | null, extra: Record<string, unknown> = {}) {
  const choices = content === null ? [] : [{ index: 0, delta: { content }, finish_reason: null }];
  return `data: ${JSON.stringify({ id: "up-1", object: "chat.completion.chunk", created: 1, model, choices, ...extra })}\n\n`;
}

export async function startUpstream(): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server = http.createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const path = (req.url ?? "").replace(/^\/v1/, "");
    if (req.method === "GET" && path === "/models") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ object: "list", data: LISTED.map((id) => ({ id, object: "model" })) }));
    }
    const body = JSON.parse(text || "{}") as Record<string, unknown>;
    let finished = false;
    const closedEarly = new Promise<boolean>((resolve) => res.on("close", () => resolve(!finished)));
    seen.push({ path, authorization: req.headers.authorization, body, closedEarly });
    const model = String(body.model);
    const json = (status: number, value: unknown) => {
      finished = true;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const sseHead = () => res.writeHead(200, { "content-type": "text/event-stream" });
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;

    if (path === "/embeddings") {
      return json(200, { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5, 0.5] }], model, usage: { prompt_tokens: 11, total_tokens: 11 } });
    }
    switch (model) {
      case "ok":
        if (body.stream === true) {
          sseHead();
          for (const w of ["Hello", " from", " upstream"]) res.write(sseChunk(model, w, includeUsage ? { usage: null } : {}));
          if (includeUsage) res.write(sseChunk(model, null, { usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 } }));
          finished = true;
          return void res.end("data: [DONE]\n\n");
        }
        return json(200, {
          id: "up-1",
          object: "chat.completion",
          created: 1,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: "Hello from upstream" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 },
        });
      case "nousage":
        return json(200, {
          id: "up-2",
          object: "chat.completion",
          created: 1,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: "four score and seven years" }, finish_reason: "stop" }],
        });
      case "fail-400":
        return json(400, {
          error: {
            message: `Invalid temperature (key ${UPSTREAM_KEY} at http://127.0.0.1:${(server.address() as AddressInfo).port}/v1)`,
            type: "invalid_request_error",
            param: "temperature",
            code: "bad_temperature",
          },
        });
      case "fail-500":
        return json(500, { error: { message: "Traceback: /srv/models/secret.py line 12", type: "server_error" } });
      case "hang":
        return; // never answers
      case "drop":
        sseHead();
        for (const w of ["one two", " three four", " five six"]) res.write(sseChunk(model, w));
        await sleep(30);
        return void req.socket.destroy();
      case "stall":
        sseHead();
        res.write(sseChunk(model, "partial answer"));
        return; // then silence until the gateway's timeout
      case "slow":
        sseHead();
        for (let i = 0; i < 200 && !res.destroyed; i++) {
          res.write(sseChunk(model, ` word${i}`));
          await sleep(20);
        }
        finished = !res.destroyed;
        return void res.end("data: [DONE]\n\n");
      case "conn-reset":
        return void req.socket.destroy();
      case "overrun": {
        // Ignores max_tokens: answers OVERRUN_FACTOR × the limit it was sent, " tok" (4 bytes, one
        // token) at a time, and reports it honestly.
        const tokens = OVERRUN_FACTOR * Number(body.max_completion_tokens ?? body.max_tokens ?? 16);
        const usage = { prompt_tokens: 5, completion_tokens: tokens, total_tokens: tokens + 5 };
        if (body.stream !== true) {
          return json(200, {
            id: "up-over",
            object: "chat.completion",
            created: 1,
            model,
            choices: [{ index: 0, message: { role: "assistant", content: " tok".repeat(tokens) }, finish_reason: "stop" }],
            usage,
          });
        }
        sseHead();
        for (let i = 0; i < tokens && !res.destroyed; i++) {
          res.write(sseChunk(model, " tok"));
          if (i % 16 === 15) await sleep(1);
        }
        if (res.destroyed) return;
        res.write(sseChunk(model, null, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
        if (includeUsage) res.write(sseChunk(model, null, { usage }));
        finished = true;
        return void res.end("data: [DONE]\n\n");
      }
      case "huge": {
        // A chat completion of HUGE_ANSWER_BYTES, chunked (no Content-Length), written with back-pressure.
        res.writeHead(200, { "content-type": "application/json" });
        res.write(`{"id":"up-huge","object":"chat.completion","created":1,"model":"${model}","choices":[{"index":0,"message":{"role":"assistant","content":"`);
        const piece = "x".repeat(64 * 1024);
        for (let sent = 0; sent < HUGE_ANSWER_BYTES && !res.destroyed; sent += piece.length) {
          if (!res.write(piece)) await new Promise((r) => (res.once("drain", r), res.once("close", r)));
        }
        if (res.destroyed) return;
        finished = true;
        return void res.end('"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}');
      }
      default:
        return json(404, { error: { message: "no such model", type: "invalid_request_error" } });
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function deadPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

