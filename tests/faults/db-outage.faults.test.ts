/**
 * (e) The database goes away for ~5 s in the middle of steady traffic (a throwaway PostgreSQL
 * cluster this test starts itself, stopped with `pg_ctl stop -m immediate`, then started again).
 * Callers get a fast 503 `service_unavailable` with Retry-After — never a 500, never a hang —
 * /healthz says 503 during the outage and 200 after, Lumen recovers without a restart within a few
 * seconds, every delivered 200 is billed exactly once once the database is back, and the server log
 * never shows SQL text or the key's hash.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusCounts, type Answer, type ChatCall } from "./client";
import { startRig, type Rig } from "./harness";
import { assertInvariants, describeLedger, waitSettled } from "./invariants";
import { PgCluster } from "./pg-cluster";

const DB_TIMEOUT_MS = 1_000;
const OUTAGE_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Probe {
  at: number;
  status: number;
  ms: number;
}

describe("(e) database outage", () => {
  let cluster: PgCluster;
  let rig: Rig;
  beforeAll(async () => {
    cluster = await PgCluster.create();
    rig = await startRig({ databaseUrl: cluster.url, api: { upstream_timeout_s: 5, db_timeout_ms: DB_TIMEOUT_MS } });
  });
  afterAll(async () => {
    await rig?.cleanup();
    await cluster?.remove();
  });

  it("503 service_unavailable during the outage, no 500, recovery without restart, every delivered 200 billed once", async () => {
    const plan = (i: number): ChatCall =>
      i % 5 === 4
        ? { model: "slow", stream: true, includeUsage: true, maxTokens: 8, timeoutMs: 10_000 }
        : i % 2
          ? { model: "ok", maxTokens: 3, timeoutMs: 10_000 }
          : { model: "ok", stream: true, includeUsage: true, maxTokens: 3, timeoutMs: 10_000 };
    const answers: Answer[] = [];
    const probes: Probe[] = [];
    let stopAt = Infinity;
    let issued = 0;
    // Steady traffic: 6 callers, each pausing 20 ms between calls (bounded by count and time).
    const workers = Array.from({ length: 6 }, async () => {
      while (Date.now() < stopAt && issued < 3_000) {
        answers.push(await rig.call(plan(issued++)));
        await sleep(20);
      }
    });
    const prober = (async () => {
      while (Date.now() < stopAt) {
        const t = Date.now();
        const status = await fetch(`${rig.server.url}/healthz`, { signal: AbortSignal.timeout(2_500) }).then((r) => r.status, () => 0);
        probes.push({ at: t, status, ms: Date.now() - t });
        await sleep(250);
      }
    })();

    await sleep(2_000);
    const downAt = Date.now();
    await cluster.stop("immediate");
    await sleep(OUTAGE_MS);
    await cluster.start();
    const upAt = Date.now();
    await sleep(5_000);
    stopAt = Date.now();
    await Promise.all([...workers, prober]);

    const before = answers.filter((a) => a.endedAt < downAt);
    const during = answers.filter((a) => a.startedAt >= downAt && a.endedAt <= upAt);
    const unavailable = answers.filter((a) => a.status === 503);
    const firstOkAfter = answers.filter((a) => a.complete && a.startedAt >= upAt).sort((a, b) => a.endedAt - b.endedAt)[0];
    // Probes overlapping the outage (a probe that hangs across it counts, as a failure).
    const healthDown = probes.filter((p) => p.at <= upAt - 500 && p.at + p.ms >= downAt + 500);
    const healthUp = probes.filter((p) => p.at >= upAt && p.status === 200)[0];
    const slowest503 = Math.max(0, ...unavailable.map((a) => a.endedAt - a.startedAt));
    console.log(
      `faults (e): ${answers.length} answers ${JSON.stringify(statusCounts(answers))}; before the outage ${JSON.stringify(statusCounts(before))}; during the outage ${JSON.stringify(statusCounts(during))}; ` +
        `slowest 503 ${slowest503} ms; /healthz during ${JSON.stringify(healthDown.map((p) => `${p.status} in ${p.ms} ms`))}; ` +
        `first 200 answer ${firstOkAfter ? firstOkAfter.endedAt - upAt : "none"} ms and first /healthz 200 ${healthUp ? healthUp.at - upAt : "none"} ms after the database returned`,
    );

    expect.soft(answers.filter((a) => a.status === 500).length, "500 answers").toBe(0);
    expect.soft(answers.filter((a) => a.status !== 200 && a.status !== 503).length, "answers other than 200 / 503 (incl. no answer)").toBe(0);
    expect.soft(unavailable.length, "503 answers while the database was down").toBeGreaterThan(0);
    for (const a of unavailable) {
      expect.soft({ type: a.errorType, code: a.errorCode, retryAfter: Boolean(a.retryAfter) }).toEqual({ type: "api_error", code: "service_unavailable", retryAfter: true });
    }
    expect.soft(slowest503, `503s within db_timeout_ms (${DB_TIMEOUT_MS}) + 1 s`).toBeLessThanOrEqual(DB_TIMEOUT_MS + 1_000);
    expect.soft(healthDown.length, "/healthz probes during the outage").toBeGreaterThan(0);
    expect.soft(healthDown.filter((p) => p.status !== 503 || p.ms > DB_TIMEOUT_MS + 1_000).length, "/healthz probes during the outage not answered 503 in time").toBe(0);
    expect.soft(healthUp ? healthUp.at - upAt : Infinity, "/healthz 200 within 5 s of the database's return").toBeLessThanOrEqual(5_000);
    expect.soft(firstOkAfter ? firstOkAfter.endedAt - upAt : Infinity, "a 200 answer within 5 s of the database's return").toBeLessThanOrEqual(5_000);

    // Settlements held during the outage must land now, once each.
    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId, { timeoutMs: 20_000 });
    console.log(`faults (e): ${describeLedger(ledger)}; delivered 200: ${answers.filter((a) => a.complete).length}`);
    assertInvariants("(e)", ledger, { answers, exactBills: true });

    const log = rig.server.log();
    expect.soft(log.includes(rig.seeded.keyHash), "the server log contains the API key's hash").toBe(false);
    const sqlLines = log.split("\n").filter((l) => /select/i.test(l));
    expect.soft(sqlLines.slice(0, 3), "server log lines containing `select`").toEqual([]);
  });
});
