import { describe, expect, it } from "vitest";
import { modelSchema } from "@/lib/config/schema";
import { MAX_JSON_DEPTH, nestedDeeperThan, type ChatCompletionBody } from "@/lib/gateway/body";
import { outputLimit, requestedChoices, upstreamChatBody, withinLimit } from "@/lib/gateway/limits";
import type { Admitted } from "@/lib/gateway/settlement";
import { noUsage } from "@/lib/gateway/usage";
import { CUT_MARGIN, SseTap } from "@/lib/gateway/stream";
import { GatewayError } from "@/lib/gateway/errors";

const model = modelSchema.parse({ name: "m", max_output_tokens: 100, endpoints: [{ url: "builtin:echo" }] });
const body = (extra: Record<string, unknown> = {}) =>
  ({ model: "m", messages: [{ role: "user", content: "hi" }], ...extra }) as ChatCompletionBody;

describe("output limit", () => {
  it("answers: max(n, best_of, 1); above api.max_n refused naming the field", () => {
    expect(requestedChoices(body(), 8)).toBe(1);
    expect(requestedChoices(body({ n: 3 }), 8)).toBe(3);
    expect(requestedChoices(body({ n: 2, best_of: 5 }), 8)).toBe(5);
    for (const [extra, param] of [[{ n: 9 }, "n"], [{ best_of: 1000 }, "best_of"]] as const) {
      try {
        requestedChoices(body(extra), 8);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(GatewayError);
        expect(err).toMatchObject({ status: 400, code: "invalid_body", param });
      }
    }
  });

  it("per answer: the caller's, else the model's; total × answers", () => {
    expect(outputLimit(model, undefined, 3)).toEqual({ perChoice: 100, choices: 3, total: 300 });
    expect(outputLimit(model, 7, 1)).toEqual({ perChoice: 7, choices: 1, total: 7 });
  });

  it("the upstream body always carries the limit, in the caller's field when it sent one", () => {
    const limit = outputLimit(model, undefined, 1);
    expect(upstreamChatBody(body(), limit)).toMatchObject({ max_tokens: 100 });
    const own = body({ max_tokens: 7 });
    expect(upstreamChatBody(own, outputLimit(model, 7, 1))).toBe(own); // unchanged, not copied
    const completion = body({ max_completion_tokens: 9 });
    expect(upstreamChatBody(completion, outputLimit(model, 9, 1))).toBe(completion);
    expect(upstreamChatBody(body({ max_tokens: 50, max_completion_tokens: 9 }), outputLimit(model, 9, 1))).toMatchObject({
      max_tokens: 9,
      max_completion_tokens: 9,
    });
    expect(upstreamChatBody(body({ stream: true, stream_options: { x: 1 } }), limit)).toMatchObject({
      max_tokens: 100,
      stream_options: { x: 1, include_usage: true },
    });
  });

  it("bills: output above the total is capped and marked estimated; within it, untouched", () => {
    const limit = outputLimit(model, 10, 2);
    const within = { ...noUsage(200, null, false), inputTokens: 5, outputTokens: 20 };
    expect(withinLimit(within, limit, {})).toBe(within);
    expect(withinLimit({ ...within, outputTokens: 200 }, limit, {})).toEqual({ ...within, outputTokens: 20, usageEstimated: true });
  });
});

describe("SseTap: the stream cut", () => {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: "c-1", object: "chat.completion.chunk", created: 7, model: "up", choices, ...extra })}\n\n`;
  const word = (index: number) => chunk([{ index, delta: { content: " tok" }, finish_reason: null }]);
  const ctx = { promptTokens: 3, startedAt: 0 } as Admitted;

  it("forwards one-token deltas up to the limit, and cuts at the one that would pass it (not forwarded)", () => {
    const tap = new SseTap(false, outputLimit(model, 10, 1));
    let out = "";
    for (let i = 0; i < 10; i++) out += tap.push(word(0), i);
    expect(tap.cut).toBe(false);
    expect(out).toBe(word(0).repeat(10));
    // One network read holding several events: nothing from the one past the limit on.
    expect(tap.push(word(0) + word(0), 99)).toBe("");
    expect(tap.cut).toBe(true);
    expect(tap.outcome("cut", ctx, null)).toMatchObject({ status: 200, errorCode: null, outputTokens: 10, usageEstimated: true });
  });

  it("counts bytes too, with a margin, for upstreams that send many tokens per delta", () => {
    const batch = (bytes: number) => chunk([{ index: 0, delta: { content: "x".repeat(bytes) }, finish_reason: null }]);
    const tap = new SseTap(false, outputLimit(model, 10, 1));
    expect(tap.push(batch(4 * 10 * CUT_MARGIN), 0)).toBe(batch(4 * 10 * CUT_MARGIN)); // one delta, exactly at the margin
    expect(tap.cut).toBe(false);
    expect(tap.push(batch(1), 1)).toBe("");
    expect(tap.cut).toBe(true);
    // Billed what was delivered, capped at the limit by the settlement.
    expect(withinLimit(tap.outcome("cut", ctx, null), outputLimit(model, 10, 1), {}).outputTokens).toBe(10);
  });

  it("closes with finish_reason length for each unfinished answer, usage when asked, then [DONE]", () => {
    const tap = new SseTap(true, outputLimit(model, 2, 3));
    tap.push(chunk([{ index: 1, delta: {}, finish_reason: "stop" }]), 0);
    for (let i = 0; i < 20 && !tap.cut; i++) tap.push(word(i % 2 === 0 ? 0 : 2), i);
    expect(tap.cut).toBe(true);
    expect(tap.deltas).toBe(6);
    const billed = withinLimit(tap.outcome("cut", ctx, null), outputLimit(model, 2, 3), {});
    const events = tap.closingEvents(billed, "m").split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const [finish, usage] = events.slice(0, 2).map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
    expect(finish).toEqual({
      id: "c-1",
      object: "chat.completion.chunk",
      created: 7,
      model: "up",
      choices: [0, 2].map((index) => ({ index, delta: {}, logprobs: null, finish_reason: "length" })),
    });
    expect(usage).toMatchObject({ id: "c-1", choices: [], usage: { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 } });
  });
});

describe("body depth", () => {
  it("counts arrays and objects, never brackets inside strings", () => {
    const deep = (k: number) => `${"[".repeat(k)}${"]".repeat(k)}`;
    expect(nestedDeeperThan(deep(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan(deep(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan(deep(100_000), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan(JSON.stringify({ a: "[[[[{{{{", b: ['\\"[[[', "\\\\"], c: [[]] }), 3)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ a: '"\\', c: [[[]]] }), 3)).toBe(true);
  });
});
