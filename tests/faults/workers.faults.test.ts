/**
 * (i) Two gateway workers (LUMEN_WORKERS=2, lib/workers.ts) on PostgreSQL, one port: both workers
 * serve a burst (each spends a real share of its CPU), a SIGTERM to the primary drains both — the
 * streams in flight finish inside the grace — both workers and then the primary exit 0, and the
 * counters equal the request log (every delivered 200 logged once, one row per upstream call).
 * Without DATABASE_URL (the embedded database), two workers are refused at start.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { burst, statusCounts, waitFor } from "./client";
import { SECRET, startRig, type Rig } from "./harness";
import { assertInvariants, describeLedger, readLedger } from "./invariants";

/** The processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return statOf(Number(e))[1] === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** [state, ppid, utime + stime ticks] of a process. */
function statOf(pid: number): [string, number, number] {
  const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return [f[0]!, Number(f[1]), Number(f[11]) + Number(f[12])];
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);

describe("(i) two gateway workers on PostgreSQL", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ workers: 2, api: { upstream_timeout_s: 15, shutdown_grace_s: 10 }, upstream: { slowChunkMs: 100 } });
  });
  afterAll(async () => rig?.cleanup());

  it("both workers serve; SIGTERM drains both, the primary exits 0; counters = log", async () => {
    const workers = childrenOf(rig.server.pid!);
    expect(workers, "the primary's workers").toHaveLength(2);
    const before = workers.map((p) => statOf(p)[2]);
    const served = await burst(300, 8, (i) =>
      rig.call(i % 2 ? { model: "ok", maxTokens: 3 } : { model: "ok", stream: true, includeUsage: true, maxTokens: 3 }),
    );
    const spent = workers.map((p, i) => statOf(p)[2] - before[i]!);
    const total = spent.reduce((a, b) => a + b, 0);
    console.log(`faults (i): burst ${JSON.stringify(statusCounts(served))}; CPU ticks per worker ${JSON.stringify(spent)}`);
    expect(served.filter((a) => a.status === 200 && a.complete).length, "burst answered").toBe(300);
    for (const [i, ticks] of spent.entries()) expect(ticks / total, `worker ${i + 1}'s share of the burst's CPU`).toBeGreaterThan(0.2);

    // Streams in flight on both workers when the primary is told to stop: ~1 s each, inside the grace.
    const inFlight = Array.from({ length: 6 }, () => rig.call({ model: "slow", stream: true, includeUsage: true, maxTokens: 10 }));
    await waitFor(() => rig.upstream.seen.filter((s) => s.behaviour === "slow").length === 6, 10_000);
    const exit = await rig.server.stop("SIGTERM", 30_000);
    const late = await Promise.all(inFlight);
    const log = rig.server.log();
    console.log(`faults (i): exit ${JSON.stringify(exit)}; in flight ${JSON.stringify(statusCounts(late))}`);
    expect.soft(exit.code, "the primary's exit code").toBe(0);
    expect.soft(late.map((a) => a.complete), "streams in flight at the signal complete").toEqual(late.map(() => true));
    expect.soft(log.split("SIGTERM received, shutting down").length - 1, "both workers ran their shutdown").toBe(2);
    expect.soft(workers.filter(alive), "workers left running").toEqual([]);

    const ledger = await readLedger(rig.databaseUrl, rig.seeded.clientId);
    console.log(`faults (i): ${describeLedger(ledger)}`);
    expect.soft(ledger.logRows, "one log row per request that reached the upstream").toBe(rig.upstream.received());
    assertInvariants("(i)", ledger, { answers: [...served, ...late], exactBills: true });
  });

  it("refuses several workers on the embedded database", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-workers-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", LUMEN_WORKERS: "2", LUMEN_SECRET: SECRET, LUMEN_DATA_DIR: tmp };
      delete env.DATABASE_URL;
      const run = spawnSync(process.execPath, [path.join(process.cwd(), ".next", "lumen-server.js"), "-p", "0", "-H", "127.0.0.1"], {
        env,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("2 workers need a PostgreSQL database shared by all of them: set DATABASE_URL");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
