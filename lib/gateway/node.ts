/**
 * The /v1 gateway on plain node:http (server.ts): the same pipeline as the route handlers in app/v1,
 * without Next's request machinery (routing, middleware, compression), which cost several ms of CPU
 * per request — more than everything the gateway itself does (bench/gateway).
 *
 * `gatewayRoute` picks the pipeline method for a request, or null for anything the gateway does not
 * serve that way (other paths and methods fall through to Next: its route handlers answer 405 and
 * 404 in the same error envelope). `serveGateway` turns the node request into a Fetch `Request`
 * whose signal aborts when the caller goes away, and writes the `Response` back chunk by chunk
 * (SSE streams are never buffered), honouring back-pressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Gateway } from "./pipeline";

type Handler = (request: Request) => Promise<Response>;

const MODELS = "/v1/models";

/** The gateway method serving this request, or null (Next serves it). */
export function gatewayRoute(gateway: Gateway, method: string | undefined, url: string | undefined): Handler | null {
  if (!url || !url.startsWith("/v1/")) return null;
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  if (method === "POST") {
    if (path === "/v1/chat/completions") return gateway.chatCompletions;
    if (path === "/v1/embeddings") return gateway.embeddings;
    return null;
  }
  if (method === "GET") {
    if (path === MODELS || path === `${MODELS}/`) return gateway.listModels;
    if (path.startsWith(`${MODELS}/`)) return gateway.retrieveModel;
  }
  return null;
}

function fetchHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    // HTTP/2 pseudo-headers and hop-by-hop headers are not the application's business.
    if (name.charCodeAt(0) === 58 /* : */) continue;
    headers.append(name, raw[i + 1]!);
  }
  return headers;
}

/** The request body as a web stream that pulls from the socket on demand (the pipeline caps it). */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => {
        try {
          controller.close();
        } catch {}
      });
      req.once("error", (err) => {
        try {
          controller.error(err);
        } catch {}
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      // Stop reading; whatever else the caller sends is discarded with the connection.
      req.removeAllListeners("data");
      req.resume();
    },
  }, { highWaterMark: 4 });
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full; false when the caller left. */
function write(res: ServerResponse, chunk: Uint8Array): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** Serves one gateway request on node:http. Never throws: the pipeline answers every failure. */
export async function serveGateway(handler: Handler, req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
  const caller = new AbortController();
  const gone = () => {
    if (!res.writableFinished) caller.abort();
  };
  res.once("close", gone);
  const method = req.method ?? "GET";
  const request = new Request(origin + (req.url ?? "/"), {
    method,
    headers: fetchHeaders(req),
    body: method === "GET" || method === "HEAD" ? undefined : bodyStream(req),
    signal: caller.signal,
    // @ts-expect-error -- undici needs `duplex` for a streamed request body; not yet in lib.dom's RequestInit.
    duplex: "half",
  });

  let response: Response;
  try {
    response = await handler(request);
  } catch {
    // The pipeline answers every error itself; this is the last line of defence.
    response = Response.json({ error: { message: "Internal error.", type: "server_error", param: null, code: "internal_error" } }, { status: 500 });
  }

  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") headers[name] = response.headers.getSetCookie();
    else headers[name] = value;
  });
  const body = response.body;
  if (!body) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  const isStream = (response.headers.get("content-type") ?? "").includes("text/event-stream");
  if (!isStream) {
    // A JSON answer: one write with its length (no chunked framing).
    const bytes = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
    headers["content-length"] = String(bytes.byteLength);
    res.writeHead(response.status, headers);
    res.end(bytes);
    return;
  }
  res.writeHead(response.status, headers);
  res.flushHeaders();
  const reader = body.getReader();
  try {
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      if (!(await write(res, step.value))) {
        await reader.cancel().catch(() => {});
        return;
      }
    }
    res.end();
  } catch {
    // The pipeline's stream failed after the headers left: end the connection so the caller notices.
    res.destroy();
  } finally {
    reader.releaseLock();
  }
}
