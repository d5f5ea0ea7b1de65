/**
 * The upstream HTTP client: a `fetch`-shaped function on node:http/https with keep-alive agents.
 *
 * Why not the global fetch: in Node 20 each fetch call costs ~0.15 ms of CPU in undici's Fetch
 * machinery (request cloning, header lists, timing info), about a tenth of the gateway's whole CPU
 * budget per request (bench/gateway profile). This client does only what HttpUpstream needs — one
 * request, no redirects followed, abort by signal — and hands back a standard `Response` whose body
 * streams the upstream's bytes as they arrive (no buffering, back-pressure kept). Cancelling that body
 * or aborting the signal destroys the upstream socket, so the upstream sees the caller leave.
 *
 * Errors keep node's `code` (ECONNREFUSED, ECONNRESET…) for UpstreamConnectionError; an abort
 * rejects with the signal's reason.
 */
import http from "node:http";
import https from "node:https";

const agentOptions = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, scheduling: "lifo" as const };
const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

export interface HttpRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/** The upstream's body as a web stream, pulled from the socket on demand. */
function bodyOf(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  // A cancel destroys the socket, but data node already read may still be emitted after it.
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        res.on("data", (chunk: Buffer) => {
          if (cancelled) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) res.pause();
        });
        res.once("end", () => {
          try {
            controller.close();
          } catch {}
        });
        res.once("error", (err) => {
          try {
            controller.error(err);
          } catch {}
        });
        // Destroyed before its end (the upstream dropped the connection mid-answer).
        res.once("close", () => {
          if (!res.complete) {
            try {
              controller.error(Object.assign(new Error("upstream connection closed before the end of the answer"), { code: "UND_ERR_SOCKET" }));
            } catch {}
          }
        });
      },
      pull() {
        res.resume();
      },
      cancel() {
        cancelled = true;
        res.destroy();
      },
    },
    { highWaterMark: 8 },
  );
}

function headersOf(res: http.IncomingMessage): Headers {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

/** Sends one request; resolves with the response as soon as its headers arrive. */
export function httpFetch(url: string, init: HttpRequestInit): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
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
    if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
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
      const status = res.statusCode ?? 502;
      // A Response cannot carry a body with these statuses.
      const bodyless = status === 204 || status === 205 || status === 304 || init.method === "HEAD";
      if (bodyless) res.resume();
      try {
        resolve(new Response(bodyless ? null : bodyOf(res), { status, statusText: res.statusMessage, headers: headersOf(res) }));
      } catch (err) {
        // A status outside 200–599 (Response refuses it): treat as a broken upstream.
        res.destroy();
        reject(Object.assign(new Error(`invalid upstream status ${status}`), { code: "UPSTREAM_INVALID_STATUS", cause: err }));
      }
    });
    req.end(init.body);
  });
}
