import { ConfigError, getConfig } from "@/lib/config";
import { getDbHandle } from "@/lib/db/client";
import { serverSecret } from "@/lib/secret";
import { log } from "@/lib/log";
import type { Db } from "@/lib/db/client";

const SWEEP_INTERVAL_MS = 60_000;

/** Metrics hooks, endpoint health checks (new endpoints checked at boot) and the reservation sweeper. */
async function startGatewayServices(db: Db): Promise<void> {
  const { addGatewayHooks, defaultGateway } = await import("@/lib/gateway/pipeline");
  const { recordRefusalMetric, recordRequestMetric } = await import("@/lib/metrics");
  const { sweepExpiredReservations } = await import("@/lib/coins/admission");
  addGatewayHooks({
    refused: (e) => recordRefusalMetric(e.reason),
    settled: (e) =>
      recordRequestMetric({
        client: e.clientName,
        model: e.model,
        status: e.status,
        inputTokens: e.inputTokens,
        outputTokens: e.outputTokens,
        coins: e.coins,
        durationMs: e.durationMs,
        ttftMs: e.ttftMs,
        streamed: e.streamed,
      }),
  });
  defaultGateway().endpoints.start();
  const sweep = () =>
    sweepExpiredReservations(db)
      .then((n) => n > 0 && log.warn("returned stale coin reservations", { count: n }))
      .catch((err: unknown) => log.error("reservation sweep failed", { error: err instanceof Error ? err.message : String(err) }));
  void sweep();
  setInterval(sweep, SWEEP_INTERVAL_MS).unref();
}

type GlobalStartup = { lumenStartup?: Promise<void> };
const slot = globalThis as unknown as GlobalStartup;

/**
 * Server start: a bad config.yaml or an unreachable database stops the process with a clear message.
 * Runs once per process (server.ts and Next's instrumentation hook may both ask; the state is on
 * globalThis because each holds its own copy of this module).
 */
export function startup(): Promise<void> {
  slot.lumenStartup ??= startOnce();
  return slot.lumenStartup;
}

async function startOnce(): Promise<void> {
  try {
    const config = getConfig();
    serverSecret();
    const handle = await getDbHandle();
    await startGatewayServices(handle.db);
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
        "  WARNING: the development sign-in is ON (auth.dev_login: true): anyone can sign in as any e-mail.\n" +
          "  Turn it off in config.yaml before exposing Lumen to a network.\n",
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Lumen cannot start: invalid configuration\n${err.message}`);
    } else {
      console.error(`Lumen cannot start: ${err instanceof Error ? err.message : String(err)}`);
    }
    process.exit(1);
  }
}
