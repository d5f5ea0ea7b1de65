import { describe, expect, it } from "vitest";
import { accountingMismatches, type AccountingTotals, type UsageTotals } from "@/lib/coins/audit";

const LOG: UsageTotals = { requests: "3", inputTokens: "30", outputTokens: "60", coins: "0.120000", audioSeconds: "4.500" };
const KEYED: UsageTotals = { ...LOG, requests: "2", inputTokens: "20", outputTokens: "40", coins: "0.080000", audioSeconds: "4.500" };

const agreeing = (): AccountingTotals => ({
  requestLog: LOG,
  requestLogWithKey: KEYED,
  clients: { ...LOG },
  apiKeys: { ...KEYED },
  clientModelUsage: { ...LOG },
  clientDailyUsage: { ...LOG },
});

describe("accountingMismatches", () => {
  it("is empty when every counter adds up to the log (the key counters to the rows with a key)", () => {
    expect(accountingMismatches(agreeing())).toEqual([]);
  });

  it.each([
    ["clients", "requests"],
    ["apiKeys", "coins"],
    ["clientModelUsage", "outputTokens"],
    ["clientDailyUsage", "audioSeconds"],
  ] as const)("names the %s counters when their %s differ", (table, field) => {
    const t = agreeing();
    t[table] = { ...t[table], [field]: "999" };
    const name = { clients: "clients", apiKeys: "api_keys", clientModelUsage: "client_model_usage", clientDailyUsage: "client_daily_usage" }[table];
    expect(accountingMismatches(t)).toEqual([name]);
  });

  it("compares the key counters with the keyed rows, not with the whole log", () => {
    const t = agreeing();
    t.apiKeys = { ...LOG };
    expect(accountingMismatches(t)).toEqual(["api_keys"]);
  });

  it("checks the maintained client totals against the client counters when they were read", () => {
    const t = agreeing();
    t.clientTotals = { ...LOG };
    expect(accountingMismatches(t)).toEqual([]);
    t.clientTotals = { ...LOG, coins: "0.120001" };
    expect(accountingMismatches(t)).toEqual(["client_totals"]);
  });
});
