/**
 * Several Lumen processes on one machine, one per core: `LUMEN_WORKERS=N` (or `--workers N`,
 * `auto` = one per CPU) makes the production server (server.ts) a node:cluster primary that forks N
 * workers. Each worker is a whole Lumen (the /v1 gateway and the console) on the same port — the
 * primary hands each new connection to the next worker — sharing what N separate instances share:
 * the PostgreSQL database (pool, counters and request log; migrations run once, under an advisory
 * lock), and the rate-limit store when `rate_limits.storage_url` (Redis) is set.
 *
 * The primary serves nothing; it owns the process's lifetime. A SIGTERM or SIGINT to it is passed to
 * every worker (as a message, so a Ctrl-C that reaches the whole process group is not counted twice),
 * each runs its own graceful shutdown (lib/runtime.ts), and the primary exits once all have: 0 when
 * every worker exited 0. A second signal is passed on as a signal: workers exit at once. A worker
 * that dies while serving is replaced; one that dies before it was ready (bad config, database
 * unreachable) stops the whole start. The signal handlers themselves live in server.ts.
 */
import cluster, { type Worker } from "node:cluster";
import os from "node:os";
import { getConfig } from "@/lib/config";
import { secureDataDir } from "@/lib/data-dir";
import { ensureSecrets } from "@/lib/secret";

/** Primary → worker: shut down gracefully. */
export const STOP_MESSAGE = "lumen:stop";
/** Worker → primary: start-up done, serving. */
export const READY_MESSAGE = "lumen:ready";

/** A crashed worker is replaced after this delay (not in a tight loop). */
const RESTART_DELAY_MS = 1_000;

/** How many workers were asked for: `--workers N` over LUMEN_WORKERS; 1 (no cluster) by default. */
export function workerCount(flag: string | undefined, env: string | undefined): number {
  const raw = (flag ?? env ?? "").trim();
  if (raw === "") return 1;
  if (raw === "auto") return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`invalid worker count ${JSON.stringify(raw)} (a whole number from 1, or "auto")`);
  return n;
}

/** Why N workers cannot run with this environment, or null. */
export function workersRefusal(n: number, env: Record<string, string | undefined>): string | null {
  if (n > 1 && !env.DATABASE_URL?.trim()) {
    return (
      `${n} workers need a PostgreSQL database shared by all of them: set DATABASE_URL. ` +
      "The embedded database (PGlite) can be opened by one process only; run one worker (LUMEN_WORKERS=1) with it."
    );
  }
  return null;
}

/**
 * In the primary, before forking: the config must load, and the data folder's secrets are created
 * here once (N workers creating them side by side could each pick a different one). Throws what
 * `getConfig` / `ensureSecrets` throw.
 */
export function prepareWorkers(n: number, say: (line: string) => void = console.log): void {
  const config = getConfig();
  secureDataDir();
  ensureSecrets();
  if (!config.rate_limits.storage_url) {
    say(
      `Lumen: no rate_limits.storage_url: each of the ${n} workers counts rate limits on its own, so a client ` +
        `may reach up to ${n}× its rpm, tpm and max_parallel. Set rate_limits.storage_url (Redis) to share them.`,
    );
  }
}

export interface Primary {
  /** The signal handler's work: first call stops gracefully, a second forces the workers out. */
  stop(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once every worker has exited. */
  readonly done: Promise<number>;
}

/** Forks `n` workers running this same script and keeps them running until `stop`. */
export function startPrimary(n: number, say: (line: string) => void = console.log): Primary {
  let stopping = false;
  let failed = false;
  const ready = new Set<Worker>();
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  const alive = new Set<Worker>();
  let announced = false;

  const fork = () => {
    const worker = cluster.fork({ LUMEN_WORKER: "1" });
    alive.add(worker);
    worker.on("message", (m: unknown) => {
      if (m !== READY_MESSAGE) return;
      ready.add(worker);
      if (ready.size === n && !announced) {
        announced = true;
        say(`Lumen: all ${n} workers ready`);
      }
    });
    worker.once("exit", (code, signal) => {
      alive.delete(worker);
      const wasReady = ready.delete(worker);
      if (code !== 0) failed = true;
      if (!stopping) {
        if (!wasReady) {
          // A start-up failure (its own message is above): the others would fail the same way.
          say(`Lumen: worker ${worker.id} exited during start-up (${signal ?? `code ${code}`}); stopping`);
          stopAll(false);
        } else {
          say(`Lumen: worker ${worker.id} exited (${signal ?? `code ${code}`}); starting a new one`);
          failed = false;
          setTimeout(() => !stopping && fork(), RESTART_DELAY_MS).unref();
        }
      }
      if (alive.size === 0 && stopping) finish(failed ? 1 : 0);
    });
  };

  const stopAll = (force: boolean) => {
    stopping = true;
    for (const worker of alive) {
      if (force) worker.process.kill("SIGTERM");
      else if (worker.isConnected()) worker.send(STOP_MESSAGE);
      else worker.process.kill("SIGTERM");
    }
    if (alive.size === 0) finish(failed ? 1 : 0);
  };

  say(`Lumen: starting ${n} workers (pid ${process.pid} is the primary)`);
  for (let i = 0; i < n; i++) fork();
  return {
    done,
    stop(signal) {
      if (stopping) {
        say(`Lumen: ${signal} received again, the workers exit now`);
        return stopAll(true);
      }
      say(`Lumen: ${signal} received, stopping ${alive.size} workers`);
      stopAll(false);
    },
  };
}

/** In a worker: tells the primary that start-up is done (no-op outside a cluster). */
export function reportReady(): void {
  if (cluster.isWorker && process.send) process.send(READY_MESSAGE);
}
