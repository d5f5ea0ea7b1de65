/**
 * The gateway over real HTTP, for the integration tests: a node:http server in front of a Gateway
 * (the production adapter for what server.ts serves, Fetch Requests for the rest). The upstream it
 * calls: tests/helpers/fake-upstream.ts.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { gatewayRoute, serveGateway as serveNodeRequest } from "@/lib/gateway/node";
import type { Gateway } from "@/lib/gateway/pipeline";
import { gatewayHandler } from "@/lib/gateway/routes";


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
