/**
 * (d) SIGKILL in the middle of a burst, then a restart.
 *
 * What is asserted, exactly: an answer's last bytes leave only once its settlement is committed
 * (lib/gateway/pipeline.ts, settleMode "before-answer"), so a SIGKILL loses no delivered answer's bill:
 *   - every answer delivered complete with 200 is logged once (by request id);
 *   - a 200 row without a delivered answer is one the kill cut in the instant between its commit and
 *     its last bytes (by request id) — the residual the README states — and nothing else;
 *   - after the restart and a sweep past the reservations' expiry (upstream_timeout_s + 60 s; the
 *     test sweeps with a `now` in the future instead of waiting), no reservation is left and
 *     pool = starting − Σ log; the counters equal the log;
 *   - the restarted server bills exactly again: its delivered 200s = its new 200 rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESERVATION_GRACE_SECONDS, sweepExpiredReservations } from "@/lib/coins/admission";
import { burst, statusCounts, waitFor, type Answer, type ChatCall } from "./client";
import { startRig, type Rig } from "./harness";
import { assertInvariants, describeLedger, readLedger, waitSettled, withDb } from "./invariants";

const UPSTREAM_TIMEOUT_S = 2;
const LOSS_WINDOW_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Every call names its request id, so a log row can be matched to its answer even when the kill cut it.
let seq = 0;
const call = (i: number): ChatCall => ({
  requestId: `kill-${++seq}`,
  ...(i % 2 ? { model: "ok", maxTokens: 3 } : { model: "ok", stream: true, includeUsage: true, maxTokens: 3 }),
});

describe("(d) SIGKILL mid-burst, then restart", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ api: { upstream_timeout_s: UPSTREAM_TIMEOUT_S }, upstream: { slowChunkMs: 100 } });
  });
  afterAll(async () => rig?.cleanup());

  it("every answer delivered before the kill is logged once; the sweeper returns the rest's reservations", async () => {
    let killedAt = Infinity;
    let answered = 0;
    const load = burst(2_000, 8, (i) => rig.call(call(i)).then((a) => (answered++, a)), () => Date.now() >= killedAt);
    // Kill in full flight: the burst well under way, three streams running upstream (bounded waits).
    await waitFor(() => answered >= 150, 15_000);
    const streams = Array.from({ length: 3 }, () => rig.call({ model: "slow", stream: true, includeUsage: true, maxTokens: 15, requestId: `kill-slow-${++seq}` }));
    await waitFor(() => rig.upstream.seen.filter((s) => s.behaviour === "slow").length === 3, 5_000);
    await sleep(LOSS_WINDOW_MS + 300);
    killedAt = Date.now();
    const exit = await rig.server.stop("SIGKILL");
    const answers: Answer[] = [...(await Promise.all(streams)), ...(await load)];
    const delivered = answers.filter((a) => a.complete);
    const deliveredEarly = delivered.filter((a) => a.endedAt < killedAt - LOSS_WINDOW_MS);
    console.log(`faults (d): killed (${exit.signal}); answers ${JSON.stringify(statusCounts(answers))}; upstream received ${rig.upstream.received()}`);

    const atKill = await readLedger(rig.databaseUrl, rig.seeded.clientId);
    await rig.restart();
    const sweptAt = new Date(Date.now() + (UPSTREAM_TIMEOUT_S + RESERVATION_GRACE_SECONDS + 1) * 1_000);
    const swept = await withDb(rig.databaseUrl, (db) => sweepExpiredReservations(db, sweptAt));
    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId, { timeoutMs: 3_000 });
    const lost = delivered.length - ledger.log200;
    console.log(
      `faults (d): at the kill ${atKill.openReservations} open reservations; swept ${swept}; delivered 200 ${delivered.length} ` +
        `(${deliveredEarly.length} more than ${LOSS_WINDOW_MS} ms before the kill); logged 200 ${ledger.log200}; lost ${lost}; ${describeLedger(ledger)}`,
    );
    expect.soft(ledger.log200, `every answer delivered > ${LOSS_WINDOW_MS} ms before the kill is logged`).toBeGreaterThanOrEqual(deliveredEarly.length);
    expect.soft(ledger.logRows, "log rows ≤ requests that reached the upstream").toBeLessThanOrEqual(rig.upstream.received());
    assertInvariants("(d) after restart + sweep", ledger, { answers, killed: true });

    // The restarted server bills exactly again.
    const after = await burst(20, 5, (i) => rig.call(call(i)));
    const again = await waitSettled(rig.databaseUrl, rig.seeded.clientId, { until: (l) => l.log200 >= ledger.log200 + after.filter((a) => a.complete).length });
    expect.soft(after.filter((a) => a.complete).length, "answers after the restart").toBe(20);
    expect.soft(again.log200 - ledger.log200, "200 rows after the restart = answers delivered after it").toBe(after.filter((a) => a.complete).length);
    assertInvariants("(d) after more traffic", again, { answers: after, before: answers, killed: true });
  });
});
