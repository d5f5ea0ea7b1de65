/**
 * The seed's own check: the accounting audit of lib/coins/audit.ts over the whole database — every
 * usage counter adds up to the request log (the key counters to the rows that carry a key).
 */
import type { Executor } from "@/lib/db/client";
import { accountingMismatches, accountingTotals, type AccountingTotals } from "@/lib/coins/audit";

export interface SeedCheck {
  totals: AccountingTotals;
  /** Counter tables that disagree with the log (empty when all agree). */
  mismatches: string[];
  ms: number;
}

export async function verifySeed(ex: Executor): Promise<SeedCheck> {
  const t0 = performance.now();
  const totals = await accountingTotals(ex);
  return { totals, mismatches: accountingMismatches(totals), ms: performance.now() - t0 };
}
