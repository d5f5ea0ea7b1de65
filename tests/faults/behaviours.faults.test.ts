/**
 * (a) Each upstream behaviour alone — status, what the caller received, the one log row and its
 * bill — then a mixed 50-request burst at concurrency 20, after which the ledger equations hold and
 * every request that reached the upstream has exactly one log row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { costOf } from "@/lib/coins/cost";
import { estimatePromptTokens } from "@/lib/gateway/tokens";
import { burst, DEFAULT_PROMPT, messagesOf, statusCounts, type Answer, type ChatCall } from "./client";
import { startRig, type Rig } from "./harness";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { assertInvariants, describeLedger, expectedBill, logRowsAfter, priced, sumCoins, waitSettled, type LogRow } from "./invariants";
import { CUT_AFTER_CHUNKS, REPORTED_PROMPT_TOKENS, TOKEN } from "../helpers/upstream-faults";

const HUGE_BYTES = 8 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const estimate = estimatePromptTokens(messagesOf(DEFAULT_PROMPT));
const subCoins = (a: string, b: string) => formatMicro(parseCoins(a) - parseCoins(b));
const cost = (input: number, output: number) => costOf(priced(), input, output);

describe("(a) upstream behaviours", () => {
  let rig: Rig;
  let mark = 0;
  const answers: Answer[] = [];

  beforeAll(async () => {
    rig = await startRig({
      upstream: { hugeBytes: HUGE_BYTES, delayMs: 300 },
      extraModels: [{ name: "capped", behaviour: "ok", max_output_tokens: 6 }],
    });
  });
  afterAll(async () => {
    if (rig) console.log(`faults (a) server log: ${rig.server.opts.logFile}`);
    await rig?.cleanup();
  });

  /** One call and the log rows it wrote (polls ≤ 5 s for `rowsExpected`, then 200 ms for strays). */
  async function single(c: ChatCall, rowsExpected = 1): Promise<{ a: Answer; rows: LogRow[] }> {
    const a = await rig.call(c);
    answers.push(a);
    let rows: LogRow[] = [];
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await sleep(50)) {
      rows = await logRowsAfter(rig.databaseUrl, rig.seeded.clientId, mark);
      if (rows.length >= rowsExpected) break;
    }
    await sleep(200);
    rows = await logRowsAfter(rig.databaseUrl, rig.seeded.clientId, mark);
    mark = rows.at(-1)?.id ?? mark;
    return { a, rows };
  }

  it("JSON with usage: 200, billed the reported usage", async () => {
    const { a, rows } = await single({ model: "ok", maxTokens: 5 });
    expect(a).toMatchObject({ status: 200, complete: true, tokens: 5, usage: { prompt: REPORTED_PROMPT_TOKENS, completion: 5 } });
    expect(rows).toMatchObject([{ status: 200, inputTokens: REPORTED_PROMPT_TOKENS, outputTokens: 5, coins: cost(REPORTED_PROMPT_TOKENS, 5), usageEstimated: false }]);
  });

  it.each([true, false])("SSE with usage (caller asks include_usage: %s): billed the reported usage", async (includeUsage) => {
    const { a, rows } = await single({ model: "ok", stream: true, includeUsage, maxTokens: 5 });
    expect(a).toMatchObject({ status: 200, complete: true, tokens: 5 });
    expect(a.usage, "the usage chunk reaches the caller only when asked").toEqual(includeUsage ? { prompt: REPORTED_PROMPT_TOKENS, completion: 5 } : null);
    expect(rows).toMatchObject([{ status: 200, inputTokens: REPORTED_PROMPT_TOKENS, outputTokens: 5, coins: cost(REPORTED_PROMPT_TOKENS, 5), streamed: true }]);
  });

  it.each([false, true])("no usage from the upstream (stream: %s): billed Lumen's count of what was delivered", async (stream) => {
    const { a, rows } = await single({ model: "nousage", stream, includeUsage: stream, maxTokens: 4 });
    expect(a).toMatchObject({ status: 200, complete: true, tokens: 4, usage: null });
    expect(rows).toMatchObject([{ status: 200, inputTokens: estimate, outputTokens: 4, coins: cost(estimate, 4), usageEstimated: true }]);
  });

  it.each([
    ["status-400", 400],
    ["status-429", 429],
  ] as const)("upstream %s: passed through as %i, billed nothing", async (model, status) => {
    const { a, rows } = await single({ model });
    expect(a).toMatchObject({ status, complete: false });
    expect(rows).toMatchObject([{ status, inputTokens: 0, outputTokens: 0, coins: "0.000000" }]);
  });

  it("upstream 500: 502 api_error, billed nothing", async () => {
    const { a, rows } = await single({ model: "status-500" });
    expect(a).toMatchObject({ status: 502, errorType: "api_error", errorCode: "upstream_error" });
    expect(rows).toMatchObject([{ status: 502, outputTokens: 0, coins: "0.000000" }]);
  });

  it("hang past the timeout: 502 after upstream_timeout_s (2 s), billed nothing", async () => {
    const { a, rows } = await single({ model: "hang" });
    expect(a).toMatchObject({ status: 502, errorCode: "upstream_error" });
    const took = a.endedAt - a.startedAt;
    expect(took, `answered after ${took} ms`).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(5_000);
    expect(rows).toMatchObject([{ status: 502, errorCode: "upstream_timeout", coins: "0.000000" }]);
  });

  it(`socket cut after ${CUT_AFTER_CHUNKS} chunks: error event after the 200, billed the ${CUT_AFTER_CHUNKS} tokens delivered`, async () => {
    const { a, rows } = await single({ model: "cut", stream: true, includeUsage: true, maxTokens: 10 });
    expect(a).toMatchObject({ status: 200, complete: false, streamError: true, tokens: CUT_AFTER_CHUNKS });
    expect(rows).toMatchObject([{ status: 502, inputTokens: estimate, outputTokens: CUT_AFTER_CHUNKS, coins: cost(estimate, CUT_AFTER_CHUNKS) }]);
  });

  it("slow stream the caller abandons: 499, billed what was delivered, the upstream call aborted", async () => {
    rig.upstream.reset();
    const { a, rows } = await single({ model: "slow", stream: true, includeUsage: true, maxTokens: 15, abortAfterTokens: 2 });
    expect(a).toMatchObject({ status: 200, abandoned: true, tokens: 2 });
    expect(rows).toMatchObject([{ status: 499, errorCode: "client_closed", inputTokens: estimate, outputTokens: 2, coins: cost(estimate, 2) }]);
    expect(rig.upstream.seen).toMatchObject([{ behaviour: "slow", completed: false, closedEarly: true }]);
  });

  it("invalid JSON from the upstream: 502, billed nothing", async () => {
    const { a, rows } = await single({ model: "invalid-json" });
    expect(a).toMatchObject({ status: 502, errorCode: "upstream_error" });
    expect(rows).toMatchObject([{ status: 502, errorCode: "upstream_invalid_answer", coins: "0.000000" }]);
  });

  // It also ignores max_tokens: the answer is delivered whole, its output billed at the limit.
  it("huge body (8 MB, under the default api.max_response_mb of 64): delivered whole, output billed at max_tokens", async () => {
    const { a, rows } = await single({ model: "huge", maxTokens: 5 });
    const tokens = HUGE_BYTES / TOKEN.length;
    expect(a).toMatchObject({ status: 200, complete: true, tokens });
    expect(rows).toMatchObject([
      { status: 200, inputTokens: REPORTED_PROMPT_TOKENS, outputTokens: 5, coins: cost(REPORTED_PROMPT_TOKENS, 5), usageEstimated: true },
    ]);
  });

  // Contract (issue 8, deliverable 4): a JSON answer cannot be cut, but no bill exceeds max_tokens × n.
  it("ignores max_tokens, JSON: delivered as produced (10×), output billed at max_tokens", async () => {
    const { a, rows } = await single({ model: "overrun", maxTokens: 3 });
    expect(a).toMatchObject({ status: 200, complete: true, tokens: 30 });
    expect(rows).toMatchObject([{ status: 200, outputTokens: 3, coins: cost(REPORTED_PROMPT_TOKENS, 3), usageEstimated: true }]);
  });

  // Contract (issue 8, deliverable 4): streams are cut once the delivered output passes max_tokens.
  it("ignores max_tokens, SSE: cut at max_tokens with finish_reason length, billed at most max_tokens", async () => {
    rig.upstream.reset();
    const { a, rows } = await single({ model: "overrun", stream: true, includeUsage: true, maxTokens: 3 });
    expect(rig.upstream.seen[0]?.maxTokens, "max_tokens Lumen sent upstream").toBe(3);
    expect(a.status).toBe(200);
    expect(a.tokens, "tokens delivered").toBeLessThanOrEqual(3);
    expect(a.finishReason).toBe("length");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.outputTokens, "output tokens billed").toBeLessThanOrEqual(3);
  });

  // Contract: Lumen always sends max_tokens upstream — the caller's, else the model's max_output_tokens.
  it("max_tokens is always sent upstream: the model's max_output_tokens when the caller sets none", async () => {
    rig.upstream.reset();
    const { a } = await single({ model: "capped" });
    expect(a.status).toBe(200);
    expect(rig.upstream.seen.map((s) => s.maxTokens)).toEqual([6]);
  });

  // Contract: n above api.max_n (default 8) → 400 invalid_body, param "n"; nothing reaches the upstream.
  it("n above api.max_n (default 8): 400 invalid_body param n, nothing sent upstream, no log row", async () => {
    rig.upstream.reset();
    const { a, rows } = await single({ model: "ok", maxTokens: 2, n: 9 }, 0);
    expect(a).toMatchObject({ status: 400, errorCode: "invalid_body", errorParam: "n" });
    expect(rig.upstream.received()).toBe(0);
    expect(rows).toEqual([]);
  });

  // Contract: every /v1 answer carries x-request-id (the caller's, else a generated uuid); request_log stores it.
  it("x-request-id: the caller's kept, else a uuid; stored in request_log.request_id", async () => {
    const mine = await single({ model: "ok", maxTokens: 2, requestId: "faults-request-1" });
    const generated = await single({ model: "ok", stream: true, includeUsage: true, maxTokens: 2 });
    const refused = await rig.call({ model: "no-such-model" });
    expect(mine.a.requestId).toBe("faults-request-1");
    expect(generated.a.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(refused.status).toBe(404);
    expect(refused.requestId, "error answers carry it too").toBeTruthy();
    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId);
    expect(ledger.requestIds, "request_log.request_id column").not.toBeNull();
    const ids = ledger.requestIds!.map((r) => r.requestId);
    expect(ids).toContain("faults-request-1");
    expect(ids).toContain(generated.a.requestId);
  });

  it("after the single behaviours: the ledger equations hold", async () => {
    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId);
    console.log(`faults (a) singles: ${describeLedger(ledger)}`);
    assertInvariants("(a) singles", ledger, { answers });
  });

  it("mixed burst of 50 at concurrency 20: no 500, each behaviour answered as alone, every delivered 200 billed once", async () => {
    const before = await waitSettled(rig.databaseUrl, rig.seeded.clientId);
    rig.upstream.reset();
    const plan: ChatCall[] = [
      { model: "ok", maxTokens: 5 },
      { model: "ok", stream: true, includeUsage: true, maxTokens: 5 },
      { model: "nousage", maxTokens: 4 },
      { model: "nousage", stream: true, includeUsage: true, maxTokens: 4 },
      { model: "status-400" },
      { model: "status-429" },
      { model: "status-500" },
      { model: "cut", stream: true, includeUsage: true, maxTokens: 10 },
      { model: "invalid-json" },
      { model: "slow", stream: true, includeUsage: true, maxTokens: 15, abortAfterTokens: 2 },
      { model: "overrun", maxTokens: 3 },
      { model: "overrun", stream: true, includeUsage: true, maxTokens: 3 },
      { model: "delay-json", maxTokens: 3 },
    ];
    const callOf = (i: number): ChatCall => (i % 25 === 0 ? { model: "hang" } : i === 10 ? { model: "huge" } : plan[i % plan.length]!);
    const started = Date.now();
    const got = await burst(50, 20, (i) => rig.call(callOf(i)));
    console.log(`faults (a) burst: ${got.length} answers in ${Date.now() - started} ms: ${JSON.stringify(statusCounts(got))}`);
    answers.push(...got);
    expect(got.filter((a) => a.status === 500), "no 500 internal_error").toEqual([]);
    const wrong = got.filter((a, i) => {
      const c = callOf(i);
      switch (c.model) {
        case "status-400":
          return a.status !== 400;
        case "status-429":
          return a.status !== 429;
        case "status-500":
        case "invalid-json":
        case "hang":
          return a.status !== 502;
        case "cut":
          return !(a.status === 200 && a.streamError && !a.complete);
        case "slow":
          return !a.abandoned;
        default:
          return !a.complete;
      }
    });
    expect(wrong.map((a) => ({ model: a.model, status: a.status, network: a.network })), "answers unlike the behaviour alone").toEqual([]);
    const ledger = await waitSettled(rig.databaseUrl, rig.seeded.clientId, { until: (l) => l.logRows >= before.logRows + rig.upstream.received() });
    console.log(`faults (a) after burst: ${describeLedger(ledger)}; upstream received ${rig.upstream.received()}`);
    expect(ledger.logRows - before.logRows, "one log row per request that reached the upstream").toBe(rig.upstream.received());
    assertInvariants("(a) burst", ledger, { answers });
    // Every delivered 200 of the burst billed once, for exactly what it delivered.
    const delivered = got.filter((a) => a.complete);
    expect(ledger.log200 - before.log200, "200 rows written by the burst").toBe(delivered.length);
    expect(subCoins(ledger.log200Coins, before.log200Coins), "Σ coins of the burst's 200 rows").toBe(sumCoins(delivered.map((a) => expectedBill(a))));
  });

  // Contract: non-streaming answers above api.max_response_mb → 502, billed for the input.
  it("huge body above api.max_response_mb (0.5, set by a config edit): 502, billed the input only", async () => {
    // Rows from here on (the burst before wrote its own without `single`).
    mark = (await logRowsAfter(rig.databaseUrl, rig.seeded.clientId, mark)).at(-1)?.id ?? mark;
    const reloads = rig.server.log().split("config reloaded").length - 1;
    rig.writeConfig({ api: { max_response_mb: 0.5 } });
    expect(await rig.server.waitForLog("config reloaded", reloads, 5_000), "the watcher applied the edit").toBe(true);
    const { a, rows } = await single({ model: "huge", maxTokens: 5 });
    expect(a).toMatchObject({ status: 502, errorType: "api_error" });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 502, outputTokens: 0 });
    expect(rows[0]!.inputTokens).toBeGreaterThan(0);
    expect(rows[0]!.coins).toBe(cost(rows[0]!.inputTokens, 0));
  });
});
