/**
 * The composition root: what a Lumen process starts, and the one place that stops it.
 *
 * `start()` (once per process; server.ts and Next's instrumentation hook may both ask): config.yaml,
 * the development sign-in's exposure check, a private data folder (umask 077, modes fixed), the
 * secrets, the database and its migrations, then the gateway's services — metrics hooks, endpoint
 * health checks, the reservation and lease sweeper — and the request log's partition upkeep. A bad config
 * or secret, an exposed development sign-in or
 * an unreachable database stops the process with a clear message.
 *
 * `shutdown()` (server.ts calls it on SIGTERM/SIGINT; no other module handles signals) runs in a fixed
 * order, so that every answer that left is billed and nothing is cut that could finish:
 *   1. stop accepting — the HTTP server closes its listener, new /v1 calls on open connections get 503;
 *   2. wait for in-flight /v1 requests and their settlements, up to `api.shutdown_grace_s`;
 *   3. abort what is left through each request's own abort path (a stream bills what it delivered);
 *   4. drain the settle queue (bounded: a database that is away gets SETTLE_DRAIN_MS more), then return
 *      this instance's coin leases to their pools (bounded alike; else they expire back);
 *   5. stop background work, close the rate limiter's Redis connection, the web app, the database.
 */
import { sql } from "drizzle-orm";
import { devLoginRefusal } from "@/lib/auth/dev-login";
import { ConfigError, dataDir, getConfig, onConfigChange } from "@/lib/config";
import { restrictModes, secureDataDir } from "@/lib/data-dir";
import { getDbHandle, type Db } from "@/lib/db/client";
import { describeDbError, withDbTimeout } from "@/lib/db/errors";
import { errorFields, log } from "@/lib/log";
import { markStartup, processState } from "@/lib/process-state";
import { ensureSecrets, SecretError } from "@/lib/secret";

const SWEEP_INTERVAL_MS = 60_000;
/** Partition upkeep: hourly, so a run that met a busy table (lock timeout) is retried soon; idle runs read only the catalog. */
const LOG_UPKEEP_INTERVAL_MS = 3_600_000;
/**
 * The first reservation/lease sweep and the first partition upkeep run this long after start-up rather
 * than at once: they are background work (their intervals repeat them), and on PGlite — one connection,
 * queries one after another — their queries would otherwise queue the first /healthz and /v1 requests
 * behind them (bench/startup.ts). Expired reservations and leases wait 2 s longer to go back to their
 * pools; the request log's DEFAULT partition takes any row meanwhile.
 */
const BACKGROUND_FIRST_RUN_MS = 2_000;
/** After the grace period and the aborts: how long settlements still being retried may take. */
const SETTLE_DRAIN_MS = 10_000;
/** How long aborted requests get to settle and end their responses. */
const ABORT_SETTLE_MS = 3_000;

/** Metrics hooks, endpoint health checks (new endpoints checked at boot) and the reservation sweeper. */
async function startGatewayServices(db: Db): Promise<void> {
  const { addGatewayHooks, defaultGateway } = await import("@/lib/gateway/pipeline");
  const { recordRefusalMetric, recordRequestMetric } = await import("@/lib/metrics");
  const { sweepExpiredReservations } = await import("@/lib/coins/admission");
  const { sweepExpiredLeases } = await import("@/lib/coins/lease-sql");
  const { settleQueue } = await import("@/lib/coins/settle-queue");
  addGatewayHooks({
    refused: (e) => recordRefusalMetric(e.reason),
    settled: recordRequestMetric,
  });
  defaultGateway().endpoints.start();
  // Never returns a reservation whose settlement this process still holds (being retried).
  // Expired coin leases (a crashed or cut-off instance's) go back to their pools as well.
  const sweep = () =>
    Promise.all([
      sweepExpiredReservations(db, undefined, settleQueue(db).heldReservations())
        .then((n) => n > 0 && log.warn("returned stale coin reservations", { count: n }))
        .catch((err: unknown) => log.error("reservation sweep failed", { ...errorFields(err) })),
      sweepExpiredLeases(db)
        .then((n) => n > 0 && log.warn("returned expired coin leases", { count: n }))
        .catch((err: unknown) => log.error("coin lease sweep failed", { ...errorFields(err) })),
    ]);
  repeatInBackground("sweeper", sweep, SWEEP_INTERVAL_MS);
}

/**
 * Runs `task` BACKGROUND_FIRST_RUN_MS after start-up, then every `intervalMs`, on unref'd timers kept in
 * one processState field (clearInterval clears a timeout too, so shutdown stops whichever is pending).
 */
function repeatInBackground(field: "sweeper" | "logUpkeep", task: () => unknown, intervalMs: number): void {
  const state = processState();
  if (state[field]) clearInterval(state[field]);
  const first = setTimeout(() => {
    void task();
    const every = setInterval(task, intervalMs);
    every.unref();
    state[field] = every;
  }, BACKGROUND_FIRST_RUN_MS);
  first.unref();
  state[field] = first;
}

/**
 * The request log's monthly partitions (lib/db/partitions.ts): created ahead, dropped past
 * data.request_log_retention_days (read live). In the background: start-up and readiness never wait for it,
 * and its first run comes BACKGROUND_FIRST_RUN_MS after start-up.
 */
async function startLogUpkeep(db: Db): Promise<void> {
  const { maintainRequestLog } = await import("@/lib/db/partitions");
  const upkeep = () =>
    maintainRequestLog(db, { retentionDays: getConfig().data.request_log_retention_days })
      .then((r) => (r.created.length > 0 || r.dropped.length > 0) && log.info("request log partitions", { ...r }))
      .catch((err: unknown) => log.warn("request log partition upkeep failed; retried within the hour", { ...describeDbError(err) }));
  repeatInBackground("logUpkeep", upkeep, LOG_UPKEEP_INTERVAL_MS);
}

/**
 * server.ts, before Next prepares (which runs the instrumentation hook, hence `start()`): the
 * addresses it is about to listen on, for the development sign-in's exposure check.
 */
export function setListenHosts(hosts: string[]): void {
  processState().listenHosts = hosts;
}

/** Starts the process's services once; exits the process with a clear message when it cannot. */
export function start(): Promise<void> {
  const state = processState();
  state.started ??= startOnce();
  return state.started;
}

async function startOnce(): Promise<void> {
  try {
    const config = getConfig();
    const refusal = devLoginRefusal(config, processState().listenHosts);
    if (refusal) {
      console.error(`Lumen cannot start: ${refusal}`);
      process.exit(1);
    }
    secureDataDir();
    const { pepperSource } = ensureSecrets();
    markStartup("config");
    const handle = await getDbHandle();
    markStartup("db_migrated");
    // The embedded database writes its initial files world-readable: make them private too.
    if (handle.kind === "pglite") restrictModes(dataDir());
    await startGatewayServices(handle.db);
    void startLogUpkeep(handle.db).catch((err: unknown) => log.error("request log partition upkeep did not start", { ...errorFields(err) }));
    markStartup("services");
    const url = config.app.base_url.replace(/\/$/, "");
    log.info("lumen started", { url, database: handle.kind });
    const port = process.env.PORT;
    const local = port ? `http://localhost:${port}` : url;
    console.log(
      `\n  Lumen is running at ${local}${local !== url ? ` (public URL, app.base_url: ${url})` : ""}\n` +
        `  Database: ${handle.kind === "pglite" ? "embedded (PGlite)" : "PostgreSQL"}\n`,
    );
    if (config.auth.dev_login) {
      console.warn(
        "  Development sign-in is ON (auth.dev_login: true): anyone who reaches Lumen can sign in as any e-mail.\n" +
          (process.env.LUMEN_ALLOW_DEV_LOGIN === "1"
            ? "  LUMEN_ALLOW_DEV_LOGIN=1 allows it on a network: use this for demos only.\n"
            : "  It is served on loopback addresses only; configure auth.oidc before exposing Lumen to a network.\n"),
      );
    }
    if (pepperSource === "root secret") {
      log.warn("API keys are hashed with LUMEN_SECRET; set LUMEN_KEY_PEPPER to its current value before rotating LUMEN_SECRET, or every API key stops working");
    }
    // A config edit that turns the development sign-in on where it may not be served: it stays refused.
    onConfigChange((next) => {
      const refused = devLoginRefusal(next, processState().listenHosts);
      if (refused) log.error("the development sign-in stays off", { reason: refused.split("\n")[0] });
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Lumen cannot start: invalid configuration\n${err.message}`);
    } else if (err instanceof SecretError) {
      console.error(`Lumen cannot start: ${err.message}`);
    } else {
      console.error(`Lumen cannot start: ${errorFields(err).cause}`);
    }
    process.exit(1);
  }
}

/** /healthz: the configuration is loaded and the database answers within api.db_timeout_ms. */
export async function health(): Promise<{ config: boolean; database: boolean }> {
  const checks = { config: false, database: false };
  let timeoutMs = 2_000;
  try {
    timeoutMs = getConfig().api.db_timeout_ms;
    checks.config = true;
  } catch {}
  try {
    await withDbTimeout(
      getDbHandle().then((h) => h.db.execute(sql`select 1`)),
      timeoutMs,
    );
    checks.database = true;
  } catch {}
  return checks;
}

/** What /healthz answers (server.ts, and app/healthz under `next dev`): 200 when both checks pass, else 503 with them. */
export async function healthAnswer(): Promise<{ status: 200 | 503; body: Record<string, unknown> }> {
  const checks = await health();
  return checks.config && checks.database ? { status: 200, body: { status: "ok" } } : { status: 503, body: { status: "unavailable", checks } };
}

export interface ShutdownHooks {
  /** Step 1: stop accepting connections (the HTTP server's close). */
  stopAccepting(): void;
  /** /v1 requests whose response has not finished yet (counted by the HTTP server). */
  activeRequests(): number;
  /** Step 5, before the database closes: the web app (Next) and anything else that may use it. */
  closeApp?(): Promise<void>;
  /** Overrides api.shutdown_grace_s (tests). */
  graceMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Resolves when `done()` holds or `ms` passed; true when it held. */
async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= until) return false;
    await sleep(25);
  }
  return true;
}

/** Stops the process's work in order (see the header). Runs once; later calls share it. */
export function shutdown(hooks: ShutdownHooks): Promise<void> {
  const state = processState();
  state.stopping ??= shutdownOnce(hooks);
  return state.stopping;
}

async function shutdownOnce(hooks: ShutdownHooks): Promise<void> {
  const state = processState();
  const gateway = state.gateway;
  let graceMs = hooks.graceMs;
  if (graceMs === undefined) {
    try {
      graceMs = getConfig().api.shutdown_grace_s * 1000;
    } catch {
      graceMs = 30_000;
    }
  }
  const started = Date.now();

  // 1. Stop accepting.
  hooks.stopAccepting();
  gateway?.drain();

  // 2. Let in-flight requests finish and settle, within the grace period.
  const quiet = () => hooks.activeRequests() === 0 && (gateway?.inFlight ?? 0) === 0;
  const finished = await waitFor(quiet, graceMs);
  const left = { requests: hooks.activeRequests(), upstreamCalls: gateway?.inFlight ?? 0 };

  // 3. Abort what is left; each request settles through its own abort path.
  if (!finished) {
    log.warn("shutdown: grace period over, aborting in-flight requests", left);
    gateway?.abortInFlight();
    await waitFor(quiet, ABORT_SETTLE_MS);
  }

  // 4. Drain the settle queue.
  if (gateway) {
    const drained = await Promise.race([gateway.idle().then(() => true), sleep(SETTLE_DRAIN_MS).then(() => false)]);
    if (!drained) log.error("shutdown: settlements still pending after the drain period; their reservations return to the pools via the sweeper");
  }

  // 4b. Return this instance's coin leases to their pools (settlements are in: what is left is unspent).
  const returned = await Promise.race([
    import("@/lib/coins/lease").then((m) => m.closeLeaseBooks()).then(() => true),
    sleep(SETTLE_DRAIN_MS).then(() => false),
  ]).catch((err: unknown) => {
    log.error("shutdown: returning coin leases failed; they return to the pools when they expire", { ...errorFields(err) });
    return true;
  });
  if (!returned) log.error("shutdown: returning coin leases timed out; they return to the pools when they expire");

  // 5. Background work, the rate limiter's Redis connection, the web app, the database.
  gateway?.close();
  if (state.sweeper) clearInterval(state.sweeper);
  if (state.logUpkeep) clearInterval(state.logUpkeep);
  await state.rateLimiter?.close().catch((err: unknown) => log.error("shutdown: closing the rate limiter failed", { ...errorFields(err) }));
  if (hooks.closeApp) await hooks.closeApp().catch((err: unknown) => log.error("shutdown: closing the web app failed", { ...errorFields(err) }));
  if (state.db) {
    const handle = await state.db.catch(() => null);
    await handle?.close().catch((err: unknown) => log.error("shutdown: closing the database failed", { ...errorFields(err) }));
    // At rest, every file the embedded database wrote while running is private as well.
    if (handle?.kind === "pglite") {
      try {
        restrictModes(dataDir());
      } catch (err) {
        log.error("shutdown: restricting the data folder's modes failed", { ...errorFields(err) });
      }
    }
  }
  log.info("lumen stopped", { ms: Date.now() - started, aborted: finished ? 0 : left.requests });
}
