/**
 * The upstream HTTP client: a `fetch`-shaped function on node:http/https with keep-alive agents.
 *
 * Why not the global fetch: in Node 20 each fetch call costs ~0.15 ms of CPU in undici's Fetch
 * machinery (request cloning, header lists, timing info), about a tenth of the gateway's whole CPU
 * budget per request (bench/gateway profile). This client does only what HttpUpstream needs — one
 * request, no redirects followed, abort by signal — and hands back node's response stream itself as
 * the answer's body (upstream-interface.ts): no web stream, no `Response`, no `Headers` in between
 * (those cost another tenth). Destroying that body or aborting the signal destroys the upstream
 * socket, so the upstream sees the caller leave.
 *
 * Errors keep node's `code` (ECONNREFUSED, ECONNRESET…) for UpstreamConnectionError; an abort
 * rejects with the signal's reason.
 */
import http from "node:http";
import https from "node:https";
import type { UpstreamAnswer } from "./upstream-interface";

const agentOptions = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, scheduling: "lifo" as const };
const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

export interface HttpRequestInit {
  method: string;
  headers: Record<string, string>;
  /** Text, or bytes in pieces (an audio upload: written one by one, honouring back-pressure). */
  body?: string | Uint8Array[];
  signal: AbortSignal;
}

/** Writes the pieces of a body with back-pressure, then ends the request. */
async function writePieces(req: http.ClientRequest, pieces: Uint8Array[]): Promise<void> {
  for (const piece of pieces) {
    if (req.destroyed) return;
    if (!req.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          req.off("drain", done);
          req.off("close", done);
          resolve();
        };
        req.on("drain", done);
        req.on("close", done);
      });
    }
  }
  if (!req.destroyed) req.end();
}

/** A response header by its lower-case name (repeated ones joined, as a Fetch `Headers` would). */
function headerOf(res: http.IncomingMessage, name: string): string | null {
  const value = res.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Sends one request; resolves with the response as soon as its headers arrive. */
export function httpFetch(url: string, init: HttpRequestInit): Promise<UpstreamAnswer> {
  return new Promise<UpstreamAnswer>((resolve, reject) => {
    const { signal } = init;
    if (signal.aborted) return reject(signal.reason);
    let target: URL;
    try {
      target = new URL(url);
    } catch (err) {
      return reject(err);
    }
    const secure = target.protocol === "https:";
    const headers: Record<string, string> = { ...init.headers };
    if (typeof init.body === "string") headers["content-length"] = String(Buffer.byteLength(init.body));
    else if (init.body) headers["content-length"] = String(init.body.reduce((n, piece) => n + piece.byteLength, 0));
    if (target.username || target.password) {
      headers.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
    }
    const req = (secure ? https : http).request({
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ""),
      port: target.port || (secure ? 443 : 80),
      path: target.pathname + target.search,
      method: init.method,
      headers,
      agent: secure ? agents.https : agents.http,
    });
    let response: http.IncomingMessage | null = null;
    const onAbort = () => {
      req.destroy();
      response?.destroy(signal.reason as Error);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const done = () => signal.removeEventListener("abort", onAbort);
    req.once("error", (err) => {
      done();
      reject(err);
    });
    req.once("response", (res) => {
      response = res;
      res.once("close", done);
      // Whoever reads the body listens for its errors; until then (and after) an abort must not crash the process.
      res.on("error", () => {});
      const status = res.statusCode ?? 502;
      if (status < 200 || status > 599) {
        // Not an answer (a Fetch Response refuses these too): treat as a broken upstream.
        res.destroy();
        reject(Object.assign(new Error(`invalid upstream status ${status}`), { code: "UPSTREAM_INVALID_STATUS" }));
        return;
      }
      const bodyless = status === 204 || status === 205 || status === 304 || init.method === "HEAD";
      if (bodyless) res.resume();
      resolve({ status, ok: status < 300, header: (name) => headerOf(res, name), body: bodyless ? null : res });
    });
    if (Array.isArray(init.body)) void writePieces(req, init.body);
    else req.end(init.body);
  });
}
