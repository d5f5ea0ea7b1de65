import { describe, expect, it } from "vitest";
import { modelSchema, type ModelConfig } from "@/lib/config/schema";
import { costOf, DEFAULT_MAX_OUTPUT_TOKENS, outputTokenBudget, outputTokenLimit } from "@/lib/coins/cost";

const model = (input: number, output: number, maxOutput?: number): ModelConfig =>
  modelSchema.parse({
    name: "m",
    input_cost_per_million: input,
    output_cost_per_million: output,
    ...(maxOutput === undefined ? {} : { max_output_tokens: maxOutput }),
    endpoints: [{ url: "builtin:echo" }],
  });

describe("costOf", () => {
  it("rounds half-up to the micro-coin, once, at the end", () => {
    // 1 × 0.5 / 1e6 = 0.0000005 → 0.000001
    expect(costOf(model(0.5, 0), 1, 0)).toBe("0.000001");
    expect(costOf(model(0, 0.5), 0, 1)).toBe("0.000001");
    // 0.0000004 → 0; 0.0000015 → 0.000002
    expect(costOf(model(0.4, 0), 1, 0)).toBe("0.000000");
    expect(costOf(model(0.5, 0), 3, 0)).toBe("0.000002");
    // Input and output are summed before rounding: 0.0000005 + 0.0000005 = 0.000001, not 0.000002.
    expect(costOf(model(0.5, 0.5), 1, 1)).toBe("0.000001");
  });

  it("is exact where floating point is not", () => {
    // (1,234,567 + 89) × 0.2 / 1e6 = 0.2469312
    expect(costOf(model(0.2, 0.2), 1_234_567, 89)).toBe("0.246931");
    // 3 × 0.1 is 0.30000000000000004 in floating point; exactly 0.0000003 → 0.000000
    expect(costOf(model(0.1, 0), 3, 0)).toBe("0.000000");
    expect(costOf(model(0.1, 0), 7, 0)).toBe("0.000001");
    expect(costOf(model(0.3, 0.7), 1_000_000, 1_000_000)).toBe("1.000000");
    expect(costOf(model(2.5, 10), 1_000, 250)).toBe("0.005000");
  });

  it("handles large token counts and prices without losing a digit", () => {
    expect(costOf(model(123.456789, 0), 1_000_000_000_000, 0)).toBe("123456789.000000");
    expect(costOf(model(0.000001, 0.000003), Number.MAX_SAFE_INTEGER, 1)).toBe("9007.199255");
    expect(costOf(model(1e6, 1e6), 2 ** 40, 2 ** 40)).toBe("2199023255552.000000");
    // Prices with more than 6 decimals still count exactly on volume.
    expect(costOf(model(0.0000005, 0), 1_000_000_000_000, 0)).toBe("0.500000");
    expect(costOf(model(1.2345678, 0), 1_000_000, 0)).toBe("1.234568");
  });

  it("is zero for free models and for no tokens", () => {
    expect(costOf(model(0, 0), 10_000, 10_000)).toBe("0.000000");
    expect(costOf(model(5, 5), 0, 0)).toBe("0.000000");
  });

  it("prices stay exact when read again, also past the bound of remembered prices", () => {
    // 1e6 tokens at price p cost exactly p. 3,000 distinct prices pass the memo's bound (1,024) twice over;
    // a remembered price that belonged to another one would show here.
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i <= 3_000; i++) {
        const price = Number(`${i}.${String(i % 997).padStart(3, "0")}`);
        expect(costOf(model(price, 0), 1_000_000, 0)).toBe(price.toFixed(6));
        expect(costOf(model(0, price), 0, 2_000_000)).toBe((price * 2).toFixed(6));
      }
    }
  });

  it("rejects token counts that are not whole numbers ≥ 0", () => {
    expect(() => costOf(model(1, 1), -1, 0)).toThrow(RangeError);
    expect(() => costOf(model(1, 1), 1.5, 0)).toThrow(RangeError);
    expect(() => costOf(model(1, 1), 0, Number.NaN)).toThrow(RangeError);
  });
});

describe("the output limit", () => {
  it("is the caller's limit, else the model's max_output_tokens, else 4,096", () => {
    expect(outputTokenLimit(model(1, 2, 1000), 50)).toBe(50);
    expect(outputTokenLimit(model(1, 2, 1000), undefined)).toBe(1000);
    expect(DEFAULT_MAX_OUTPUT_TOKENS).toBe(4096);
    expect(outputTokenLimit(model(1, 2), undefined)).toBe(4096);
  });

  it("counts every answer (n, best_of) and stays a safe integer", () => {
    expect(outputTokenBudget(model(1, 2, 1000), 50, 3)).toBe(150);
    expect(outputTokenBudget(model(1, 2), undefined, 8)).toBe(8 * 4096);
    const huge = outputTokenBudget(model(1, 2), Number.MAX_SAFE_INTEGER, 8);
    expect(huge).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => costOf(model(1, 2), 0, huge)).not.toThrow();
  });
});
