/**
 * Overspend bounded by construction (SPEC §6, README "Overspend, bounded by construction"), over real HTTP with the
 * official `openai` client and the scripted upstream of tests/helpers/upstream-api.ts: the output
 * limit is always sent and reserved × n, an upstream that ignores it cannot bill past it (the 10×
 * scenario, JSON and streaming), the prompt bound holds for non-Latin scripts, oversized answers are
 * cut off, and no body — however deep — answers 500.
 */
import { describe, expect, it } from "vitest";
import { desc, eq, sql } from "drizzle-orm";
import OpenAI, { APIError } from "openai";
import { encode as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { encode as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { coinPools, coinReservations, requestLog } from "@/lib/db/schema";
import { costOf } from "@/lib/coins/cost";
import { leaseBook } from "@/lib/coins/lease";
import { backends } from "../helpers/backend";
import { useGatewayRig } from "../helpers/gateway-rig";
import { OVERRUN_FACTOR } from "../helpers/upstream-api";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "overspend-test-secret-0123456789-abcdefgh";

/** overrun: output only, 20,000 coins per million → max_tokens 100 reserves exactly 2 coins. */
const configText = (up: string) => `
app: {base_url: "http://lumen.test"}
api: {require_consent: false, upstream_timeout_s: 1, max_n: 4, max_response_mb: 0.01}
defaults: {model_access: allowed}
clients:
  default: {max: 1000, refresh: 0, starting: 1000}
  five-json: {max: 5, refresh: 0, starting: 5}
  five-stream: {max: 5, refresh: 0, starting: 5}
models:
  - {name: ok, input_cost_per_million: 1, output_cost_per_million: 2, max_output_tokens: 100, endpoints: [{url: "${up}", model: ok}]}
  - {name: overrun, output_cost_per_million: 20000, endpoints: [{url: "${up}", model: overrun}]}
  - {name: hang, input_cost_per_million: 1000, output_cost_per_million: 2000, max_output_tokens: 50, endpoints: [{url: "${up}", model: hang}]}
  - {name: huge, input_cost_per_million: 1000, output_cost_per_million: 1000, endpoints: [{url: "${up}", model: huge}]}
`;

describe.each(backends())("overspend bounds on $name", (backend) => {
  const rig = useGatewayRig(backend, { config: (up) => configText(up) });

  const client = async (name: string) => {
    const c = await insertClient(rig.db, name);
    const key = (await insertKey(rig.db, c.id, "main")).plaintext;
    const openai = rig.openai(key);
    return { id: c.id, key, openai };
  };
  /** The real balance: the pool's own plus what this instance's coin lease holds. */
  const balance = async (clientId: string) =>
    (await rig.db.select({ b: sql<string>`(${coinPools.balance} + ${coinPools.leased})::text` }).from(coinPools).where(eq(coinPools.clientId, clientId)))[0]?.b;
  const logRows = (clientId: string) => rig.db.select().from(requestLog).where(eq(requestLog.clientId, clientId)).orderBy(desc(requestLog.id));
  /** What requests in flight hold: reservation rows, or the estimates in flight on the coin lease (api.coin_lease). */
  const reservations = async (clientId: string) => {
    const held = await rig.db.select({ amount: sql<string>`${coinReservations.amount}::text` }).from(coinReservations).where(eq(coinReservations.clientId, clientId));
    const leased = leaseBook(rig.db).available(clientId);
    return leased && leased.inflight !== "0.000000" ? [...held, { amount: leased.inflight }] : held;
  };
  const waitFor = async <T>(fn: () => Promise<T | undefined | null | false>, ms = 5000): Promise<T> => {
    for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 20))) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > until) throw new Error("condition not met in time");
    }
  };

  it("always sends a max-tokens limit upstream: the caller's field kept, else max_tokens", async () => {
    const { openai } = await client("limits");
    const messages = [{ role: "user" as const, content: "hi" }];
    const sent = async (extra: Record<string, unknown>) => {
      const n = rig.upstream.seen.length;
      const params = { model: "ok", messages, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming;
      if (extra.stream) for await (const _ of await openai.chat.completions.create({ ...params, stream: true })) void _;
      else await openai.chat.completions.create(params);
      const { max_tokens, max_completion_tokens } = rig.upstream.seen[n]!.body;
      return { max_tokens, max_completion_tokens };
    };
    expect(await sent({})).toEqual({ max_tokens: 100, max_completion_tokens: undefined }); // the model's max_output_tokens
    expect(await sent({ stream: true })).toEqual({ max_tokens: 100, max_completion_tokens: undefined });
    expect(await sent({ max_tokens: 7 })).toEqual({ max_tokens: 7, max_completion_tokens: undefined });
    expect(await sent({ max_completion_tokens: 9 })).toEqual({ max_tokens: undefined, max_completion_tokens: 9 });
    // Both: max_completion_tokens wins (as in the estimate) and max_tokens is aligned to it.
    expect(await sent({ max_tokens: 500, max_completion_tokens: 9 })).toEqual({ max_tokens: 9, max_completion_tokens: 9 });
  });

  it("n above api.max_n (or best_of) → 400 naming the field, the pool untouched", async () => {
    const c = await client("greedy");
    const chat = { model: "ok", messages: [{ role: "user" as const, content: "hi" }] };
    const before = await balance(c.id);
    await expect(c.openai.chat.completions.create({ ...chat, n: 1000 })).rejects.toMatchObject({ status: 400, code: "invalid_body", param: "n" });
    const err = await c.openai.chat.completions.create({ ...chat, n: 5 }).catch((e: APIError) => e);
    expect((err as APIError).message).toMatch(/at most 4 answers per request/);
    const bestOf = { ...chat, best_of: 9 } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    await expect(c.openai.chat.completions.create(bestOf)).rejects.toMatchObject({ status: 400, param: "best_of" });
    await expect(c.openai.chat.completions.create({ ...chat, n: 0 })).rejects.toMatchObject({ status: 400, param: "n" });
    expect(await balance(c.id)).toBe(before);
    expect(await logRows(c.id)).toEqual([]);
    expect(await reservations(c.id)).toEqual([]);
  });

  it("reserves the output limit × n, and a prompt bound at or above a real tokenizer's count for any script", async () => {
    const c = await client("multilingual");
    const text = "人工智能网关必须准确计费。ภาษาไทยต้องระมัดระวัง 👩‍👩‍👧‍👦 नमस्ते दुनिया";
    // A byte-level BPE never has more tokens than bytes; the bound adds 4 framing tokens a message.
    const bound = Buffer.byteLength(text) + 4;
    expect(bound).toBeGreaterThanOrEqual(o200k(text).length + 4);
    expect(bound).toBeGreaterThanOrEqual(cl100k(text).length + 4);
    expect(Math.ceil(text.length / 4)).toBeLessThan(cl100k(text).length); // what chars/4 reserved before

    const reservedFor = async (extra: Record<string, unknown>) => {
      const pending = c.openai.chat.completions
        .create({ model: "hang", messages: [{ role: "user", content: text }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming)
        .catch((e: APIError) => e);
      const [row] = await waitFor(async () => {
        const r = await reservations(c.id);
        return r.length > 0 && r;
      });
      expect(await pending).toMatchObject({ status: 502 }); // hang: the upstream timeout ends it
      return row!.amount;
    };
    expect(await reservedFor({ n: 3, max_tokens: 10 })).toBe(costOf(rig.model("hang"), bound, 3 * 10));
    expect(await reservedFor({ n: 3 })).toBe(costOf(rig.model("hang"), bound, 3 * 50)); // max_output_tokens × n
    expect(await reservedFor({})).toBe(costOf(rig.model("hang"), bound, 50));
    expect(await balance(c.id)).toBe("1000.000000"); // timeouts cost nothing
  });

  it("the 10× scenario, JSON: an upstream that ignores max_tokens is billed at the limit; the pool ends one overrun below zero", async () => {
    const c = await client("five-json");
    const ask = () => c.openai.chat.completions.create({ model: "overrun", messages: [{ role: "user", content: "go" }], max_tokens: 100 });
    for (let i = 0; i < 3; i++) {
      const out = await ask();
      expect(out.choices[0]?.message.content?.length).toBe(4 * OVERRUN_FACTOR * 100); // produced, and delivered
      expect(out.usage?.completion_tokens).toBe(OVERRUN_FACTOR * 100);
    }
    await expect(ask()).rejects.toMatchObject({ status: 429, code: "insufficient_quota" });
    const rows = await logRows(c.id);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ status: 200, outputTokens: 100, usageEstimated: true, coins: "2.000000" });
    }
    // Estimate e = 2 per request; admissions took 2, 2 and the 1 left (from the coin lease, which took
    // them from the pool first; the balance read is the real one, pool + lease): the README's bound
    // −Σ(e − r) over the requests in flight = −1 (uncapped, the three would have cost 60).
    expect(await balance(c.id)).toBe("-1.000000");
  });

  it("the 10× scenario, streaming and concurrent: cut with finish_reason length and [DONE], upstream aborted, billed at the limit", async () => {
    const c = await client("five-stream");
    const n = rig.upstream.seen.length;
    const one = async () => {
      try {
        const stream = await c.openai.chat.completions.create({
          model: "overrun",
          messages: [{ role: "user", content: "go" }],
          max_tokens: 100,
          stream: true,
          stream_options: { include_usage: true },
        });
        const chunks: OpenAI.ChatCompletionChunk[] = [];
        for await (const chunk of stream) chunks.push(chunk); // ends only on [DONE] or an error
        return { status: 200, chunks };
      } catch (err) {
        return { status: (err as APIError).status ?? 0, chunks: [] };
      }
    };
    const results = await Promise.all(Array.from({ length: 6 }, one));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429, 429]);
    for (const { chunks } of results.filter((r) => r.status === 200)) {
      const text = chunks.map((ch) => ch.choices[0]?.delta.content ?? "").join("");
      expect(text.length / 4).toBe(100); // one token a delta: exactly the limit, then the cut
      const finish = chunks.find((ch) => ch.choices[0]?.finish_reason);
      expect(finish).toMatchObject({ id: "up-1", model: "overrun", object: "chat.completion.chunk" });
      expect(finish?.choices[0]).toMatchObject({ index: 0, finish_reason: "length" });
      expect(chunks.at(-1)?.usage).toMatchObject({ completion_tokens: 100 }); // the billed numbers
    }
    const calls = rig.upstream.seen.slice(n).filter((s) => s.body.model === "overrun");
    expect(calls).toHaveLength(3);
    expect(await Promise.all(calls.map((s) => s.closed))).toEqual([true, true, true]);
    const rows = await logRows(c.id);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatchObject({ status: 200, streamed: true, outputTokens: 100, usageEstimated: true, coins: "2.000000" });
    expect(await balance(c.id)).toBe("-1.000000");
  });

  it("a non-streaming answer above api.max_response_mb → 502, the connection cut, the input billed", async () => {
    const c = await client("bulky");
    const n = rig.upstream.seen.length;
    await expect(
      c.openai.chat.completions.create({ model: "huge", messages: [{ role: "user", content: "everything, please" }] }),
    ).rejects.toMatchObject({ status: 502, code: "upstream_answer_too_large", type: "api_error" });
    expect(await rig.upstream.seen[n]!.closed).toBe(true);
    const [row] = await logRows(c.id);
    // "everything, please" = 18 bytes → ceil(18 / 4) = 5 typical tokens
    expect(row).toMatchObject({ model: "huge", status: 502, errorCode: "upstream_answer_too_large", inputTokens: 5, outputTokens: 0 });
    expect(row?.coins).toBe(costOf(rig.model("huge"), 5, 0));
    expect(await reservations(c.id)).toEqual([]);
  });

  it("bodies nested deeper than 64 levels → 400 (100,000 deep never answers 500); 64 is accepted", async () => {
    const { key } = await client("deep");
    const post = (body: string) =>
      fetch(`${rig.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body,
      });
    // The body object is level 1: `x` with k nested arrays reaches level k + 1.
    const nested = (k: number, where: "x" | "content") => {
      const deep = `${"[".repeat(k)}${"]".repeat(k)}`;
      return where === "x"
        ? `{"model":"ok","messages":[{"role":"user","content":"hi"}],"x":${deep}}`
        : `{"model":"ok","messages":[{"role":"user","content":[{"type":"text","text":"hi"},${deep}]}]}`;
    };
    for (const body of [nested(100_000, "x"), nested(100_000, "content"), nested(64, "x")]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: "invalid_body",
        message: "The request body is nested deeper than 64 levels.",
      });
    }
    expect((await post(nested(63, "x"))).status).toBe(200);
  });
});
