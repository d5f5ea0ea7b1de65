import { describe, expect, it } from "vitest";
import {
  addMicro,
  compareMicro,
  formatMicro,
  maxMicro,
  minMicro,
  mulMicro,
  normalizeCoins,
  parseCoins,
  subMicro,
} from "@/lib/coins/decimal";
import { nextRefillAt, poolView, refillPool, type PoolConfig } from "@/lib/coins/pool";

const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const pool = (max: number, refresh: number, starting = max): PoolConfig => ({ max, refresh, starting });

describe("decimal", () => {
  it("parses numbers through their decimal text, exactly", () => {
    expect(parseCoins(0.05)).toBe(50_000n);
    expect(parseCoins(0.1)).toBe(100_000n);
    expect(parseCoins(100)).toBe(100_000_000n);
    expect(parseCoins(-2)).toBe(-2_000_000n);
    expect(parseCoins(1e-6)).toBe(1n);
    expect(parseCoins(1e21)).toBe(10n ** 27n);
    expect(parseCoins(3n)).toBe(3_000_000n);
  });

  it("parses numeric text from the database and rounds past 6 decimals like numeric(20,6)", () => {
    expect(parseCoins("12.345678")).toBe(12_345_678n);
    expect(parseCoins("-0.500000")).toBe(-500_000n);
    expect(parseCoins("7")).toBe(7_000_000n);
    expect(parseCoins(".5")).toBe(500_000n);
    expect(parseCoins("1.0000005")).toBe(1_000_001n);
    expect(parseCoins("1.0000004")).toBe(1_000_000n);
    expect(parseCoins("-1.0000005")).toBe(-1_000_001n);
    expect(parseCoins("5e-7")).toBe(1n);
    expect(parseCoins("1.5E2")).toBe(150_000_000n);
  });

  it("rejects what is not a number", () => {
    for (const bad of ["", "-", ".", "abc", "1.2.3", "1,5", "e5", "0x10"]) expect(() => parseCoins(bad)).toThrow(RangeError);
    expect(() => parseCoins(Number.NaN)).toThrow(RangeError);
    expect(() => parseCoins(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it("formats with 6 decimals, like numeric(20,6) as text", () => {
    expect(formatMicro(12_345_678n)).toBe("12.345678");
    expect(formatMicro(-500_000n)).toBe("-0.500000");
    expect(formatMicro(0n)).toBe("0.000000");
    expect(formatMicro(1n)).toBe("0.000001");
    expect(normalizeCoins(100)).toBe("100.000000");
    expect(normalizeCoins("3.14")).toBe("3.140000");
  });

  it("does exact arithmetic", () => {
    expect(formatMicro(mulMicro(parseCoins(0.05), 7))).toBe("0.350000");
    expect(0.05 * 7).not.toBe(0.35); // what a float would have done
    expect(formatMicro(addMicro(parseCoins(0.1), parseCoins(0.2)))).toBe("0.300000");
    expect(formatMicro(subMicro(parseCoins(0.3), parseCoins(0.1)))).toBe("0.200000");
    let sum = 0n;
    for (let i = 0; i < 100_000; i++) sum = addMicro(sum, parseCoins(0.000001));
    expect(formatMicro(sum)).toBe("0.100000");
    let total = 0n;
    for (let i = 0; i < 10_000; i++) total = addMicro(total, parseCoins("0.1"));
    expect(formatMicro(total)).toBe("1000.000000");
    expect(() => mulMicro(1n, 1.5)).toThrow(RangeError);
  });

  it("compares", () => {
    expect(minMicro(1n, -1n)).toBe(-1n);
    expect(maxMicro(1n, -1n)).toBe(1n);
    expect([compareMicro(1n, 2n), compareMicro(2n, 2n), compareMicro(3n, 2n)]).toEqual([-1, 0, 1]);
  });
});

describe("refillPool", () => {
  const state = (balance: string, anchor = T0) => ({ balance, refilledAt: anchor });

  it("credits whole hours only", () => {
    const cfg = pool(100, 2);
    expect(refillPool(state("10"), cfg, at(59))).toEqual({ balance: "10.000000", refilledAt: T0, hoursCredited: 0 });
    expect(refillPool(state("10"), cfg, at(61))).toEqual({ balance: "12.000000", refilledAt: at(60), hoursCredited: 1 });
    const later = refillPool(state("10"), cfg, at(5.5 * 60));
    expect(later).toEqual({ balance: "20.000000", refilledAt: at(300), hoursCredited: 5 });
    // The half hour left over is not lost: it counts toward the next refill.
    expect(refillPool(later, cfg, at(6 * 60)).balance).toBe("22.000000");
  });

  it("is the same whether read often or rarely", () => {
    const cfg = pool(1000, 0.05);
    let often = state("1");
    for (let m = 0; m < 50 * 60; m += 7) often = refillPool(often, cfg, at(m));
    often = refillPool(often, cfg, at(50 * 60));
    const once = refillPool(state("1"), cfg, at(50 * 60));
    expect(often.balance).toBe(once.balance);
    expect(often.refilledAt).toEqual(once.refilledAt);
    expect(once.balance).toBe("3.500000");
  });

  it("caps at max and still advances the anchor", () => {
    const cfg = pool(100, 5);
    expect(refillPool(state("98"), cfg, at(120))).toEqual({ balance: "100.000000", refilledAt: at(120), hoursCredited: 2 });
    expect(refillPool(state("100"), cfg, at(180))).toEqual({ balance: "100.000000", refilledAt: at(180), hoursCredited: 3 });
  });

  it("refills a negative balance upward", () => {
    expect(refillPool(state("-3.5"), pool(100, 1), at(120)).balance).toBe("-1.500000");
    expect(refillPool(state("-3.5"), pool(100, 1), at(240)).balance).toBe("0.500000");
  });

  it("never lowers a balance above a max that was lowered, and applies a new refresh from the next read", () => {
    expect(refillPool(state("500"), pool(100, 5), at(600)).balance).toBe("500.000000");
    expect(refillPool(state("500"), pool(100, 5), at(30)).balance).toBe("500.000000");
    // refresh changed from 1 to 3: the balance is kept, the new rate applies to the hours now counted
    const first = refillPool(state("10"), pool(100, 1), at(60));
    expect(first.balance).toBe("11.000000");
    expect(refillPool(first, pool(100, 3), at(180)).balance).toBe("17.000000");
    // max raised: the balance refills toward the new cap
    expect(refillPool(state("100"), pool(200, 50), at(60)).balance).toBe("150.000000");
  });

  it("credits nothing for a clock behind the anchor, for refresh 0, or without a capped pool", () => {
    expect(refillPool(state("5"), pool(100, 1), at(-120))).toEqual({ balance: "5.000000", refilledAt: T0, hoursCredited: 0 });
    expect(refillPool(state("5"), pool(100, 0), at(120)).balance).toBe("5.000000");
    expect(refillPool(state("5"), pool(-2, 1), at(120)).hoursCredited).toBe(0);
    expect(refillPool(state("5"), pool(0, 1), at(120)).hoursCredited).toBe(0);
  });

  it("stays exact with small refresh values", () => {
    expect(refillPool(state("0"), pool(100, 0.05), at(7 * 60)).balance).toBe("0.350000");
    expect(refillPool(state("0"), pool(100, 0.000001), at(24 * 365 * 60)).balance).toBe("0.008760");
  });
});

describe("nextRefillAt", () => {
  const state = (balance: string) => ({ balance, refilledAt: T0 });

  it("is the next whole hour after the (refilled) anchor", () => {
    expect(nextRefillAt(state("10"), pool(100, 1), at(37))).toEqual(at(60));
    expect(nextRefillAt(state("10"), pool(100, 1), at(60))).toEqual(at(120));
    expect(nextRefillAt(state("10"), pool(100, 1), at(5.5 * 60))).toEqual(at(360));
  });

  it("is null when nothing will be credited", () => {
    expect(nextRefillAt(state("10"), pool(100, 0), at(5))).toBeNull();
    expect(nextRefillAt(state("100"), pool(100, 1), at(5))).toBeNull();
    expect(nextRefillAt(state("150"), pool(100, 1), at(5))).toBeNull();
    expect(nextRefillAt(state("99.5"), pool(100, 1), at(65))).toBeNull(); // full after this read's refill
    expect(nextRefillAt(state("10"), pool(-2, 1), at(5))).toBeNull();
    expect(nextRefillAt(state("10"), pool(0, 1), at(5))).toBeNull();
  });
});

describe("poolView", () => {
  it("names the special cases", () => {
    expect(poolView(null, null, T0)).toEqual({ kind: "not_configured" });
    expect(poolView({ balance: "1", refilledAt: T0 }, null, T0)).toEqual({ kind: "not_configured" });
    expect(poolView(null, pool(-2, 5), T0)).toEqual({ kind: "unlimited" });
    expect(poolView({ balance: "3", refilledAt: T0 }, pool(0, 5), T0)).toEqual({ kind: "blocked" });
  });

  it("shows the refilled balance, the cap, the rate and the countdown", () => {
    expect(poolView({ balance: "40", refilledAt: T0 }, pool(100, 0.05), at(60 + 37))).toEqual({
      kind: "pool",
      balance: "40.050000",
      max: "100.000000",
      percent: 40.05,
      refreshPerHour: "0.050000",
      nextRefillInMinutes: 23,
    });
  });

  it("rounds the countdown up to whole minutes", () => {
    const view = poolView({ balance: "1", refilledAt: T0 }, pool(10, 1), new Date(T0.getTime() + 59 * 60_000 + 30_000));
    expect(view.kind === "pool" && view.nextRefillInMinutes).toBe(1);
  });

  it("uses starting when the pool has no row yet", () => {
    expect(poolView(null, pool(100, 2, 25), T0)).toEqual({
      kind: "pool",
      balance: "25.000000",
      max: "100.000000",
      percent: 25,
      refreshPerHour: "2.000000",
      nextRefillInMinutes: 60,
    });
  });

  it("clamps the percentage and has no countdown when full or without refill", () => {
    const over = poolView({ balance: "150", refilledAt: T0 }, pool(100, 1), T0);
    expect(over).toMatchObject({ balance: "150.000000", percent: 100, nextRefillInMinutes: null });
    const negative = poolView({ balance: "-2.5", refilledAt: T0 }, pool(100, 1), at(10));
    expect(negative).toMatchObject({ balance: "-2.500000", percent: 0, nextRefillInMinutes: 50 });
    const noRefill = poolView({ balance: "10", refilledAt: T0 }, pool(100, 0), at(10));
    expect(noRefill).toMatchObject({ refreshPerHour: "0.000000", nextRefillInMinutes: null });
  });
});
