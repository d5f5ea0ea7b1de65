/**
 * The /v1 gateway on plain node:http (server.ts): the same pipeline as the route handlers in app/v1,
 * without Next's request machinery (routing, middleware, compression), which cost several ms of CPU
 * per request — more than everything the gateway itself does (bench/gateway).
 *
 * `gatewayRoute` picks the pipeline method for a request from the route table (routes.ts) — every
 * /v1 path, including the 404 and 405 answers — or null for everything else (Next serves it). `serveGateway` turns the node request into a Fetch `Request`
 * whose signal aborts when the caller goes away, and writes the `Response` back chunk by chunk
 * (SSE streams are never buffered), honouring back-pressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorResponse, internalError } from "./errors";
import type { Gateway } from "./pipeline";
import { jsonTextOf } from "./json-response";
import type { GatewayRequest } from "./request";
import { gatewayHandler } from "./routes";

type Handler = (request: GatewayRequest) => Promise<Response>;

/**
 * The gateway call serving this request (the route table, routes.ts), or null when the path is not
 * under /v1 (Next serves it). Unknown /v1 paths and methods get the gateway's 404/405 envelopes.
 */
export function gatewayRoute(gateway: Gateway, method: string | undefined, url: string | undefined): Handler | null {
  return gatewayHandler(gateway, method, url);
}

/**
 * Feeds the request body to `onChunk` as it arrives, then calls `done` once: "ended" with the body's
 * size, or "too_large" as soon as it passes `limit` bytes (the rest is discarded, so the answer, 413,
 * can still be written). `fail` gets a read error or a connection closed before the end.
 */
function listenToBody(
  req: IncomingMessage,
  limit: number,
  onChunk: (chunk: Buffer) => void,
  done: (result: "ended" | "too_large", size: number) => void,
  fail: (err: Error) => void,
): void {
  let size = 0;
  const cleanup = () => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    req.off("close", onClose);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > limit) {
      cleanup();
      req.resume();
      done("too_large", size);
      return;
    }
    onChunk(chunk);
  };
  const onEnd = () => {
    cleanup();
    done("ended", size);
  };
  const onError = (err: Error) => {
    cleanup();
    fail(err);
  };
  const onClose = () => {
    if (req.complete) return;
    cleanup();
    fail(new Error("the connection closed before the end of the request body"));
  };
  if (req.readableEnded) return done("ended", 0);
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  req.on("close", onClose);
}

/** The node request as the pipeline reads it (request.ts). */
function gatewayRequest(req: IncomingMessage, url: string, signal: AbortSignal): GatewayRequest {
  return {
    streamBody: (limit, onChunk) => new Promise((resolve, reject) => listenToBody(req, limit, onChunk, resolve, reject)),
    url,
    method: req.method,
    signal,
    header(name) {
      const value = req.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
    readBody(limit) {
      return new Promise<Uint8Array | null>((resolve, reject) => {
        const chunks: Buffer[] = [];
        listenToBody(
          req,
          limit,
          (chunk) => chunks.push(chunk),
          (result, size) => resolve(result === "too_large" ? null : Buffer.concat(chunks, size)),
          reject,
        );
      });
    },
  };
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
  const request = gatewayRequest(req, origin + (req.url ?? "/"), caller.signal);

  let response: Response;
  try {
    response = await handler(request);
  } catch {
    // The pipeline answers every error itself; this is the last line of defence.
    response = errorResponse(internalError());
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
  const text = jsonTextOf(response);
  if (text !== undefined) {
    // The pipeline's JSON answers: one write with their length, without reading the body back.
    void body.cancel().catch(() => {});
    headers["content-length"] = String(Buffer.byteLength(text));
    res.writeHead(response.status, headers);
    res.end(text);
    return;
  }
  const isStream = (response.headers.get("content-type") ?? "").includes("text/event-stream");
  if (!isStream) {
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
