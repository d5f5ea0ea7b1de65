/**
 * The gateway over real HTTP, for the integration tests: a node:http server in front of a Gateway
 * (the production adapter for what server.ts serves, Fetch Requests for the rest), and the rig that
 * puts a test database, the fake upstream (tests/helpers/fake-upstream.ts) and a Gateway behind it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll } from "vitest";
import OpenAI from "openai";
import type { Db } from "@/lib/db/client";
import { parseConfigText } from "@/lib/config/load";
import type { LumenConfig, ModelConfig } from "@/lib/config/schema";
import { findModel } from "@/lib/config/resolve";
import { EndpointRegistry } from "@/lib/gateway/endpoints";
import { gatewayRoute, serveGateway as serveNodeRequest } from "@/lib/gateway/node";
import { createGateway, type Gateway, type GatewayOptions } from "@/lib/gateway/pipeline";
import { gatewayHandler } from "@/lib/gateway/routes";
import { useBackend, type Backend } from "./backend";
import type { FakeUpstream } from "./fake-upstream";
import { deadPort } from "./net";
import { startApiUpstream } from "./upstream-api";


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
// The rig: a test database, the fake upstream, a Gateway on them, served over HTTP
// ---------------------------------------------------------------------------

export interface GatewayRig {
  readonly db: Db;
  /** The live config (a test may swap it; the gateway reads it per request). */
  config: LumenConfig;
  readonly upstream: FakeUpstream;
  readonly gw: Gateway;
  /** The gateway's origin, http://127.0.0.1:PORT (the API is under /v1). */
  readonly url: string;
  /** The official client with this key, no retries. */
  openai(apiKey: string): OpenAI;
  model(name: string): ModelConfig;
}

export interface GatewayRigOptions {
  /** config.yaml, given the fake upstream's base URL and a port where nothing listens. */
  config(upstreamUrl: string, deadPort: number): string;
  /** More createGateway options (hooks, settleMode…). */
  gateway?: Partial<GatewayOptions>;
}

/**
 * For a suite on `backend`: opens the database (useBackend), starts the API fake upstream
 * (tests/helpers/upstream-api.ts), builds a Gateway with endpoint health checks on the config and
 * serves it; everything is closed after the suite. Call it first in the suite; read its fields in tests.
 */
export function useGatewayRig(backend: Backend, o: GatewayRigOptions): GatewayRig {
  let db: Db | undefined;
  let config: LumenConfig | undefined;
  let upstream: FakeUpstream | undefined;
  let gw: Gateway | undefined;
  let server: Awaited<ReturnType<typeof serveGateway>> | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`gateway rig: ${what} is not ready (used outside a test?)`);
    return value;
  };
  useBackend(backend, (h) => (db = h.db));
  beforeAll(async () => {
    upstream = await startApiUpstream();
    config = parseConfigText(o.config(upstream.url, await deadPort()), "test-config.yaml").config;
    const getDb = async () => ready(db, "the database");
    const getConfig = () => ready(config, "the config");
    gw = createGateway({ getDb, getConfig, keyCache: null, endpoints: new EndpointRegistry({ getDb, getConfig, checkTimeoutMs: 1000 }), ...o.gateway });
    server = await serveGateway(gw);
  });
  afterAll(async () => {
    gw?.close();
    await server?.close();
    await upstream?.close();
  });
  return {
    get db() {
      return ready(db, "the database");
    },
    get config() {
      return ready(config, "the config");
    },
    set config(next: LumenConfig) {
      config = next;
    },
    get upstream() {
      return ready(upstream, "the upstream");
    },
    get gw() {
      return ready(gw, "the gateway");
    },
    get url() {
      return ready(server, "the server").url;
    },
    openai: (apiKey) => new OpenAI({ baseURL: `${ready(server, "the server").url}/v1`, apiKey, maxRetries: 0, timeout: 15_000 }),
    model: (name) => {
      const m = findModel(ready(config, "the config"), name);
      if (!m) throw new Error(`gateway rig: no model ${name} in the config`);
      return m;
    },
  };
}
