/**
 * Lumen's production server (`npm start`; bundled to .next/lumen-server.js by `npm run build`).
 *
 * One node:http server on one port: every /v1 request goes straight to the gateway through its route
 * table (lib/gateway/routes.ts, via lib/gateway/node.ts; unknown paths and methods get the API's 404
 * and 405 envelopes); everything else — the console, sign-in, /healthz, /metrics — is handled by
 * Next.js exactly as `next start` would (a Next.js "custom server"). The reason is measured, not
 * taste: Next's routing, middleware and response machinery cost ~7 ms of CPU per API call on this
 * 2-core machine, several times what the gateway itself needs (bench/gateway). The catch-all route
 * app/v1/[[...path]] serves the same table under `next dev` / `next start`.
 *
 * Listens on the loopback addresses 127.0.0.1 and ::1 (so http://localhost works whichever one the
 * browser tries) unless -H / HOST names another address; a development sign-in on a non-loopback
 * address stops start-up (lib/auth/dev-login.ts). Forwarded headers (X-Forwarded-*, Forwarded) are
 * dropped before Next sees them unless `app.trust_proxy: true`. Every non-/v1 answer carries the
 * console's security headers (lib/http/security-headers.ts; pages also get their CSP in middleware).
 *
 * With `--workers N` / LUMEN_WORKERS=N (N > 1; PostgreSQL only) this process is a node:cluster primary
 * that runs N such servers on the same port and owns their lifetime (lib/workers.ts).
 *
 * Usage: node .next/lumen-server.js [-p PORT] [-H HOSTNAME] [--workers N]   (PORT, HOST and LUMEN_WORKERS env also work; default 3000, loopback, 1)
 */
// First, for its side effect: PGlite's WebAssembly compiles while the rest loads (see the module).
import "@/lib/db/pglite-warm";
import cluster from "node:cluster";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { getConfig } from "@/lib/config";
import { defaultGateway } from "@/lib/gateway/pipeline";
import { errorAnswer, starting as startingUp } from "@/lib/gateway/errors";
import { gatewayRoute, serveGateway } from "@/lib/gateway/node";
import type { Gateway } from "@/lib/gateway/pipeline";
import { isGatewayPath, pathOf } from "@/lib/gateway/routes";
import { DEFAULT_LISTEN_HOSTS } from "@/lib/http/loopback";
import { commonSecurityHeaders } from "@/lib/http/security-headers";
import { log } from "@/lib/log";
import { markStartup, processState } from "@/lib/process-state";
import { healthAnswer, setListenHosts, shutdown, start } from "@/lib/runtime";
import { prepareWorkers, reportReady, startPrimary, STOP_MESSAGE, workerCount, workersRefusal } from "@/lib/workers";

/** How long Next's loading waits for the runtime's start-up (the database) before it loads anyway. */
const NEXT_LOAD_WAIT_MS = 3_000;

/** Request headers a caller could use to pose as a proxy; honoured only with app.trust_proxy. */
const FORWARDED_HEADERS = ["forwarded", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-for", "x-forwarded-prefix"];

/** Listens on one address; resolves false when that address does not exist here (no IPv6). */
function listen(server: http.Server, port: number, host: string, optional: boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (optional && (err.code === "EADDRNOTAVAIL" || err.code === "EAFNOSUPPORT")) resolve(false);
      else reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve(true);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/**
 * Next.js's start-up without the steps a production server does not need, as Next's own standalone
 * server (`output: "standalone"`, its generated server.js) starts: the configuration `next build`
 * resolved and saved (.next/required-server-files.json) is handed over in
 * __NEXT_PRIVATE_STANDALONE_CONFIG, so Next neither imports next.config.mjs nor validates and
 * normalises it again; and __NEXT_PRIVATE_RENDER_WORKER tells its config loader not to install the
 * require hook that points `webpack` at its compiled copy (loading that copy is ~120 ms here; only a
 * build or a dev server requires webpack, and a standalone server runs without the copy at all).
 * Together ~150–170 ms of every start (measured: next() + prepare() 590 → 430 ms, three runs each).
 * Both are Next's private variables, read in next/dist/server/config.js of the pinned 15.5: check them
 * on an upgrade. Without a readable file (no build) Next loads its configuration as usual.
 */
function useBuiltNextConfig(dir: string): void {
  let config: unknown;
  try {
    config = (JSON.parse(fs.readFileSync(path.join(dir, ".next", "required-server-files.json"), "utf8")) as { config?: unknown }).config;
  } catch {
    return;
  }
  if (!config || typeof config !== "object") return;
  process.env.__NEXT_PRIVATE_STANDALONE_CONFIG = JSON.stringify(config);
  process.env.__NEXT_PRIVATE_RENDER_WORKER ??= "lumen";
}

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
  if (cluster.isPrimary) {
    let workers: number;
    try {
      workers = workerCount(option(["--workers"]), process.env.LUMEN_WORKERS);
    } catch (err) {
      console.error(`Lumen cannot start: ${(err as Error).message}`);
      process.exit(1);
    }
    if (workers > 1) {
      const refusal = workersRefusal(workers, process.env);
      if (refusal) {
        console.error(`Lumen cannot start: ${refusal}`);
        process.exit(1);
      }
      try {
        prepareWorkers(workers);
      } catch (err) {
        console.error(`Lumen cannot start: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      }
      // The primary's one signal handler: each worker runs its own shutdown (below), the primary waits.
      const primary = startPrimary(workers);
      process.on("SIGTERM", primary.stop);
      process.on("SIGINT", primary.stop);
      process.exit(await primary.done);
    }
  }
  const hostname = option(["-H", "--hostname"]) ?? (process.env.HOST?.trim() || undefined);
  const hosts = hostname ? [hostname] : [...DEFAULT_LISTEN_HOSTS];
  process.env.PORT = String(port);
  setListenHosts(hosts);

  // Start-up runs behind a listening socket, and the port is bound at once. Two stages:
  //  1. the runtime — config.yaml, exposure check, secrets, database + migrations, gateway services.
  //     When it is done the gateway serves /v1; until then /v1 answers 503 service_unavailable (never an
  //     answer from a database whose schema is not ready).
  //  2. Next.js (the console, sign-in, /metrics): loaded and prepared after the runtime, so its ~0.7 s
  //     of synchronous module loading does not sit on the same thread in front of the database's open
  //     (measured: bench/startup.ts). Console requests that arrive before it is ready wait for it, and
  //     /healthz answers 503 until it is (see serveHealth).
  // The runtime's config and exposure checks run synchronously inside start(), so a refused start exits
  // before anything listens.
  const started = start(); // exits the process with a clear message on failure
  // The bundle lives in <root>/.next; Next finds the build and next.config.mjs from the project root.
  const dir = path.resolve(__dirname, "..");
  type NextApp = ReturnType<typeof import("next").default>;
  let app: NextApp | null = null;
  // A database that waits (another instance's migrations on PostgreSQL) does not hold the console back.
  const nextAfter = Promise.race([started, new Promise((r) => setTimeout(r, NEXT_LOAD_WAIT_MS).unref())]);
  const appLoaded = nextAfter.then(async () => {
    useBuiltNextConfig(dir);
    const { default: next } = await import("next");
    app = next({ dev: false, dir, hostname: hostname ?? "localhost", port });
    return app;
  });
  const prepared = appLoaded.then(async (a) => {
    await a.prepare();
    // The console's compression (and its packages) load with the console, off the /healthz path.
    const { compressAnswer } = await import("@/lib/http/compress");
    markStartup("next_prepared");
    const handle = a.getRequestHandler();
    return { handle, compressAnswer };
  });
  let ready = false;
  let gateway: Gateway | null = null;
  const gatewayReady = started.then(() => {
    gateway = defaultGateway();
    ready = true;
    markStartup("serving");
  });
  const whenReady = Promise.all([gatewayReady, prepared]);
  whenReady.catch((err: unknown) => {
    console.error(`Lumen cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });

  const origin = `http://${hostname && hostname.includes(":") ? `[${hostname}]` : hostname ?? "localhost"}:${port}`;
  let stopping = false;
  /** /v1 responses not finished yet: shutdown waits for them. */
  let active = 0;
  const serveApp = ({ handle, compressAnswer }: Awaited<typeof prepared>, req: http.IncomingMessage, res: http.ServerResponse) => {
    const config = getConfig();
    if (!config.app.trust_proxy) for (const name of FORWARDED_HEADERS) delete req.headers[name];
    for (const [name, value] of Object.entries(commonSecurityHeaders(config.app.base_url))) res.setHeader(name, value);
    compressAnswer(req, res);
    void handle(req, res);
  };
  /** The console's handler once Next is prepared (and the runtime started); null before. */
  let appHandle: Awaited<typeof prepared> | null = null;
  void whenReady.then(([, handle]) => {
    appHandle = handle;
  });
  /**
   * GET /healthz, served here rather than by Next's route (app/healthz, for `next dev` / `next start`):
   * no framework work, and no first-request route loading on the way to the first 200. 503 until
   * both stages above are done, then the runtime's checks (configuration loaded, database answers).
   * It waits for the console (stage 2) although /v1 does not need it: Next's loading blocks this
   * thread for ~0.7 s, and a load balancer that routed traffic here on an earlier 200 saw /v1 calls
   * stall that long right after start (a caller leaving a stream then was noticed late: the fault
   * suite's disconnect test billed a token the caller never read).
   */
  const serveHealth = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const answer = ({ status, body }: { status: number; body: Record<string, unknown> }) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
    };
    for (const [name, value] of Object.entries(commonSecurityHeaders(getConfig().app.base_url))) res.setHeader(name, value);
    if (!ready || !appHandle) return answer({ status: 503, body: { status: "unavailable", checks: { starting: true } } });
    void healthAnswer().then(answer, () => answer({ status: 503, body: { status: "unavailable", checks: { config: false, database: false } } }));
  };
  const onRequest: http.RequestListener = (req, res) => {
    // While shutting down, answers ask keep-alive callers to reconnect (to another instance).
    if (stopping) res.setHeader("connection", "close");
    if ((req.method === "GET" || req.method === "HEAD") && req.url && pathOf(req.url) === "/healthz") return serveHealth(req, res);
    if (!ready) {
      if (req.url && isGatewayPath(pathOf(req.url))) {
        active++;
        void serveGateway(async () => errorAnswer(startingUp()), req, res, origin).finally(() => active--);
      } else {
        void whenReady.then(([, handle]) => serveApp(handle, req, res), () => res.destroy());
      }
      return;
    }
    const route = gatewayRoute(gateway!, req.method, req.url);
    if (route) {
      active++;
      void serveGateway(route, req, res, origin).finally(() => active--);
      return;
    }
    if (appHandle) serveApp(appHandle, req, res);
    else void whenReady.then(([, handle]) => serveApp(handle, req, res), () => res.destroy());
  };
  const servers = hosts.map(() => {
    const server = http.createServer(onRequest);
    // Longer than common load-balancer idle timeouts, so they close idle connections first.
    server.keepAliveTimeout = 65_000;
    return server;
  });

  // This process's lifetime is owned here: the one signal handler, which runs the runtime's ordered
  // shutdown (lib/runtime.ts). A second signal exits at once.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.log(`Lumen: ${signal} received again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    if (!ready) {
      // Nothing was served yet (/v1 answered 503 only): nothing to drain or settle, and the database may
      // still be opening (or waiting for another instance's migrations): stop at once, as before start-up ran.
      console.log(`Lumen: ${signal} received during start-up, exiting`);
      process.exit(0);
    }
    console.log(`Lumen: ${signal} received, shutting down`);
    void shutdown({
      stopAccepting: () => {
        for (const server of servers) {
          server.close();
          server.closeIdleConnections();
        }
      },
      activeRequests: () => active,
      // The console may still be loading (a stop right after the gateway started): it gets a few
      // seconds to finish before it is closed; one that was never loaded has nothing to close.
      closeApp: async () => {
        if (!app) return;
        await Promise.race([prepared.catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())]);
        await app.close();
      },
    })
      .catch((err: unknown) => console.error("Lumen: shutdown failed", err instanceof Error ? err.name : String(err)))
      .finally(() => {
        for (const server of servers) server.closeAllConnections();
        process.exit(0);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (cluster.isWorker) {
    // A worker's stop comes from its primary (a Ctrl-C may also reach it directly: counted once).
    process.on("message", (m: unknown) => {
      if (m === STOP_MESSAGE && !stopping) stop("SIGTERM");
    });
    // The primary is gone (killed): nobody owns this worker any more.
    process.on("disconnect", () => {
      if (!stopping) stop("SIGTERM");
    });
  }

  const listening: string[] = [];
  try {
    for (const [i, host] of hosts.entries()) {
      // The default's IPv6 loopback may not exist on this machine; 127.0.0.1 alone then serves localhost.
      if (await listen(servers[i]!, port, host, !hostname && i > 0)) listening.push(host.includes(":") ? `[${host}]` : host);
    }
  } catch (err) {
    console.error(`Lumen cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  for (const server of servers) {
    server.on("error", (err) => log.error("HTTP server error", { cause: err.message }));
  }
  markStartup("listening");
  console.log(`  Listening on ${listening.map((h) => `${h}:${port}`).join(" and ")}`);
  void whenReady.then(() => {
    log.info("startup phases", { ms: { ...processState().startup, ready: Math.round(performance.now()) } });
    reportReady();
  });
}

main().catch((err: unknown) => {
  console.error(`Lumen cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
