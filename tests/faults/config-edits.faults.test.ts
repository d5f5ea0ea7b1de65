/**
 * (f) config.yaml edited while a burst runs: prices doubled, the client's pool blocked (max 0),
 * then reopened with tripled prices. The watcher applies each edit; every request is billed at one
 * of the configured prices, refused requests cost nothing, and the ledger equations hold
 * throughout. (The pool keeps refresh 0 and the test spans far less than an hour: refills are 0.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { costOf } from "@/lib/coins/cost";
import { burst, statusCounts, type Answer, type ChatCall } from "./client";
import { PRICES, startRig, type Rig } from "./harness";
import { assertInvariants, describeLedger, logRowsAfter, priced, waitSettled } from "./invariants";

const DOUBLE = { input: PRICES.input * 2, output: PRICES.output * 2 };
const TRIPLE = { input: PRICES.input * 3, output: PRICES.output * 3 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = (i: number): ChatCall => (i % 2 ? { model: "ok", maxTokens: 3 } : { model: "ok", stream: true, includeUsage: true, maxTokens: 3 });

describe("(f) config edits under load", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({});
  });
  afterAll(async () => rig?.cleanup());

  /** Writes an edit and waits (≤ 5 s) until the server logs that it reloaded the file. */
  async function edit(patch: Parameters<Rig["writeConfig"]>[0]): Promise<boolean> {
    const reloads = rig.server.log().split("config reloaded").length - 1;
    // The watcher polls the file's stat once a second; a new mtime is what it looks for.
    await sleep(50);
    rig.writeConfig(patch);
    return rig.server.waitForLog("config reloaded", reloads, 5_000);
  }

  it("prices and pools changed mid-burst: each applied, every row billed at a configured price, invariants hold", async () => {
    let done = false;
    const load = burst(
      2_000,
      6,
      async (i) => {
        const a = await rig.call(call(i));
        await sleep(10);
        return a;
      },
      () => done,
    );
    await sleep(800);
    const applied = [await edit({ prices: DOUBLE }), await edit({ prices: DOUBLE, pool: { max: 0 } })];
    await sleep(500);
    applied.push(await edit({ prices: TRIPLE }));
    await sleep(800);
    done = true;
    const answers: Answer[] = await load;
    console.log(`faults (f): edits applied ${JSON.stringify(applied)}; ${answers.length} answers ${JSON.stringify(statusCounts(answers))}`);
    expect(applied).toEqual([true, true, true]);
    expect.soft(answers.filter((a) => a.status === 500).length, "500 answers").toBe(0);
    expect.soft(answers.filter((a) => a.status !== 200 && a.status !== 403).map((a) => a.status), "answers other than 200 / 403 (blocked)").toEqual([]);
    expect.soft(answers.filter((a) => a.status === 403).length, "refusals while the pool was blocked").toBeGreaterThan(0);

    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId);
    console.log(`faults (f): ${describeLedger(ledger)}`);
    assertInvariants("(f)", ledger, { answers });
    const rows = await logRowsAfter(rig.databaseUrl, rig.seeded.clientId);
    const offPrice = rows.filter((r) => ![PRICES, DOUBLE, TRIPLE].some((p) => costOf(priced(p), r.inputTokens, r.outputTokens) === r.coins));
    expect.soft(offPrice, "rows billed at none of the configured prices").toEqual([]);

    // Once the last edit is in force, new requests pay its prices exactly.
    const mark = rows.at(-1)?.id ?? 0;
    const after = await burst(6, 3, (i) => rig.call(call(i)));
    const settled = await waitSettled(rig.databaseUrl, rig.seeded.clientId, { until: (l) => l.logRows >= ledger.logRows + 6 });
    const newRows = await logRowsAfter(rig.databaseUrl, rig.seeded.clientId, mark);
    expect(after.map((a) => a.complete)).toEqual(after.map(() => true));
    expect(newRows.map((r) => r.coins)).toEqual(newRows.map((r) => costOf(priced(TRIPLE), r.inputTokens, r.outputTokens)));
    assertInvariants("(f) after the edits", settled, { answers: after, before: answers });
  });
});
