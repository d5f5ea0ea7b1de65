/**
 * The /v1 gateway on plain node:http (server.ts): the same pipeline as the route handlers in app/v1,
 * without Next's request machinery (routing, middleware, compression), which cost several ms of CPU
 * per request — more than everything the gateway itself does (bench/gateway).
 *
 * `gatewayRoute` picks the pipeline method for a request from the route table (routes.ts) — every
 * /v1 path, including the 404 and 405 answers — or null for everything else (Next serves it).
 * `serveGateway` hands the pipeline the node request as a GatewayRequest (request.ts) whose signal
 * aborts when the caller goes away, and writes its Answer (answer.ts) straight to the node response:
 * a text answer in one write, an SSE relay event by event (never buffered), honouring back-pressure.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Answer } from "./answer";
import { errorAnswer, internalError } from "./errors";
import type { Gateway } from "./pipeline";
import type { GatewayRequest } from "./request";
import { gatewayHandler } from "./routes";

type Handler = (request: GatewayRequest) => Promise<Answer>;

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

/** Serves one gateway request on node:http. Never throws: the pipeline answers every failure. */
export async function serveGateway(handler: Handler, req: IncomingMessage, res: ServerResponse, origin: string): Promise<void> {
  const caller = new AbortController();
  const gone = () => {
    if (!res.writableFinished) caller.abort();
  };
  res.once("close", gone);
  const request = gatewayRequest(req, origin + (req.url ?? "/"), caller.signal);

  let answer: Answer;
  try {
    answer = await handler(request);
  } catch {
    // The pipeline answers every error itself; this is the last line of defence.
    answer = errorAnswer(internalError());
  }
  if (answer.kind === "text") {
    // One write: the headers with the text and its length.
    answer.headers["content-length"] = String(Buffer.byteLength(answer.text));
    res.writeHead(answer.status, answer.headers);
    res.end(answer.text);
    return;
  }
  res.writeHead(answer.status, answer.headers);
  res.flushHeaders();
  // The upstream's events go straight to the socket; a caller that leaves aborts the upstream through
  // `caller` (the relay settles what was delivered), so a write after that is simply skipped.
  await answer.pipe({
    write: (text) => !res.destroyed && res.write(text),
    onDrain: (resume) => res.once("drain", resume),
    end: (text) => {
      if (!res.destroyed) res.end(text);
    },
  });
}
