/**
 * Lumen's production server (`npm start`; bundled to .next/lumen-server.js by `npm run build`).
 *
 * One node:http server on one port: the /v1 API calls that client keys make go straight to the
 * gateway pipeline (lib/gateway/node.ts); everything else — the console, sign-in, /healthz, /metrics
 * and any other /v1 path or method — is handled by Next.js exactly as `next start` would
 * (a Next.js "custom server"). The reason is measured, not taste: Next's routing, middleware and
 * response machinery cost ~7 ms of CPU per API call on this 2-core machine, several times what the
 * gateway itself needs (bench/gateway). The app/v1 route handlers stay and serve the same pipeline
 * under `next dev` / `next start`.
 *
 * Usage: node .next/lumen-server.js [-p PORT] [-H HOSTNAME]   (PORT env also works; default 3000)
 */
import http from "node:http";
import path from "node:path";
import next from "next";
import { defaultGateway } from "@/lib/gateway/pipeline";
import { gatewayRoute, serveGateway } from "@/lib/gateway/node";
import { shutdown, start } from "@/lib/runtime";

function option(names: string[]): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const n of names) {
      if (a === n) return args[i + 1];
      if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return undefined;
}

async function main() {
  const port = Number(option(["-p", "--port"]) ?? process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`Lumen cannot start: invalid port ${JSON.stringify(option(["-p", "--port"]) ?? process.env.PORT)}`);
    process.exit(1);
  }
  const hostname = option(["-H", "--hostname"]);
  process.env.PORT = String(port);

  // The bundle lives in <root>/.next; Next finds the build and next.config.ts from the project root.
  const dir = path.resolve(__dirname, "..");
  const app = next({ dev: false, dir, hostname: hostname ?? "localhost", port });
  const handle = app.getRequestHandler();
  await app.prepare();
  await start(); // config.yaml, secret, database + migrations; exits with a clear message on failure

  const gateway = defaultGateway();
  const origin = `http://${hostname && hostname.includes(":") ? `[${hostname}]` : hostname ?? "localhost"}:${port}`;
  let stopping = false;
  /** /v1 responses not finished yet: shutdown waits for them. */
  let active = 0;
  const server = http.createServer((req, res) => {
    // While shutting down, answers ask keep-alive callers to reconnect (to another instance).
    if (stopping) res.setHeader("connection", "close");
    const route = gatewayRoute(gateway, req.method, req.url);
    if (route) {
      active++;
      void serveGateway(route, req, res, origin).finally(() => active--);
      return;
    }
    // The caller's address for the console's activity trail (lib/audit/origin.ts); never the caller's say-so.
    req.headers["x-lumen-peer"] = req.socket.remoteAddress ?? "";
    void handle(req, res);
  });
  // Longer than common load-balancer idle timeouts, so they close idle connections first.
  server.keepAliveTimeout = 65_000;

  // This process's lifetime is owned here: the one signal handler, which runs the runtime's ordered
  // shutdown (lib/runtime.ts). A second signal exits at once.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`Lumen: ${signal} received again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.log(`Lumen: ${signal} received, shutting down`);
    void shutdown({
      stopAccepting: () => {
        server.close();
        server.closeIdleConnections();
      },
      activeRequests: () => active,
      closeApp: () => app.close(),
    })
      .catch((err: unknown) => console.error("Lumen: shutdown failed", err instanceof Error ? err.name : String(err)))
      .finally(() => {
        server.closeAllConnections();
        process.exit(0);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  server.on("error", (err) => {
    console.error(`Lumen cannot start: ${err.message}`);
    process.exit(1);
  });
  server.listen(port, hostname, () => {
    console.log(`  Listening on ${origin}`);
  });
}

main().catch((err: unknown) => {
  console.error(`Lumen cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
