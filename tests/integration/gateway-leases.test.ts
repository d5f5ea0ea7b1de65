/**
 * The /v1 pipeline on coin leases (api.coin_lease, lib/coins/lease.ts), over real HTTP with the
 * official `openai` client: on a warm lease a request reaches the upstream with no database call
 * before it — every admission is answered from memory at once, and the only statements of a run of
 * sequential requests are their settlements (and a background top-up now and then); the log, the counters and the real balance (pool + leases) agree to
 * the coin; and with the switch off every request reserves in the database as before.
 */
import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { coinPools, coinReservations } from "@/lib/db/schema";
import { accountingMismatches, accountingTotals, leaseMismatches } from "@/lib/coins/audit";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { leaseBook } from "@/lib/coins/lease";
import { KeyCache } from "@/lib/gateway/auth";
import { backends } from "../helpers/backend";
import { useGatewayRig } from "../helpers/gateway-rig";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "gateway-leases-secret-0123456789-abcdefgh";

const configText = (up: string) => `
app: {base_url: "http://lumen.test"}
api: {require_consent: false, upstream_timeout_s: 5}
defaults: {model_access: allowed}
clients:
  default: {max: 1000, refresh: 0, starting: 1000}
models:
  - {name: ok, input_cost_per_million: 1000, output_cost_per_million: 2000, max_output_tokens: 100, endpoints: [{url: "${up}", model: ok}]}
`;

/** What kind of statement a Db call is: a settlement, a lease statement, or anything else. */
function kindOf(prop: string, args: unknown[]): string {
  if (prop !== "execute") return prop;
  const text = ((args[0] as SQL).queryChunks ?? []).map((c) => ((c as { value?: unknown }).value as string[] | undefined)?.join?.("") ?? "").join("");
  if (text.includes("insert into request_log")) return "settle";
  if (text.includes("coin_leases")) return "lease";
  return "execute";
}

/** A real database whose every call (queries, builders, transactions) is counted by kind. */
function counting(db: Db): { db: Db; calls: string[] } {
  const calls: string[] = [];
  const counted = new Set(["execute", "select", "insert", "update", "delete", "transaction", "query", "selectDistinct", "with"]);
  const wrapped = new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== "string" || !counted.has(prop)) return value;
      if (typeof value !== "function") {
        calls.push(prop);
        return value;
      }
      return (...args: unknown[]) => {
        calls.push(kindOf(prop, args));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { db: wrapped, calls };
}

describe.each(backends())("gateway on coin leases ($name)", (backend) => {
  let counted: { db: Db; calls: string[] } | undefined;
  const rig = useGatewayRig(backend, {
    config: (up) => configText(up),
    // A key cache that outlives the run: a key lookup every 500 ms (the default) is not what is measured.
    gateway: { keyCache: new KeyCache(600_000), getDb: async () => (counted ??= counting(rig.db)).db },
  });
  const realBalance = async (clientId: string) =>
    (await rig.db.select({ b: sql<string>`(${coinPools.balance} + ${coinPools.leased})::text` }).from(coinPools).where(eq(coinPools.clientId, clientId)))[0]?.b;
  const ask = { model: "ok", messages: [{ role: "user" as const, content: "hello" }], max_tokens: 10 };

  it("on a warm lease, a request goes upstream with no database call before it; the money adds up", async () => {
    const c = await insertClient(rig.db, "warm");
    const openai = rig.openai((await insertKey(rig.db, c.id, "main")).plaintext);
    for (let i = 0; i < 5; i++) await openai.chat.completions.create(ask); // cold: key lookup, pool, lease
    await new Promise((r) => setTimeout(r, 100)); // a background top-up may follow
    const calls = counted!.calls;
    const from = calls.length;
    const upstreamBefore = rig.upstream.seen.length;
    const stats = { ...leaseBook(counted!.db).stats };
    for (let i = 0; i < 30; i++) await openai.chat.completions.create(ask);
    // Every one of the 30 admitted from memory at once: none waited for a statement.
    expect(leaseBook(counted!.db).stats.fromMemory - stats.fromMemory).toBe(30);
    expect(leaseBook(counted!.db).stats.waited - stats.waited).toBe(0);
    expect(rig.upstream.seen.length - upstreamBefore).toBe(30);
    const made = calls.slice(from);
    // One settlement per request (each answer waits for its commit) and nothing else per request: no
    // key lookup (cached), no admission statement. Background top-ups do not hold a request.
    expect(made.filter((k) => k === "settle")).toHaveLength(30);
    expect(made.filter((k) => k !== "settle" && k !== "lease")).toEqual([]);
    // Background top-ups (about one a second at a steady rate: the lease is topped up to ~2 s of
    // admissions when it falls below half of that) run beside the requests, never one per request.
    expect(made.filter((k) => k === "lease").length).toBeLessThan(15);
    expect(await rig.db.select().from(coinReservations).where(eq(coinReservations.clientId, c.id))).toEqual([]);

    const totals = await accountingTotals(rig.db, c.id);
    expect(accountingMismatches(totals)).toEqual([]);
    expect(totals.requestLog.requests).toBe("35");
    expect(await leaseMismatches(rig.db, c.id)).toEqual([]);
    expect(await realBalance(c.id)).toBe(formatMicro(parseCoins("1000") - parseCoins(totals.requestLog.coins)));
    expect(leaseBook(counted!.db).available(c.id)).toMatchObject({ inflight: "0.000000" });
  });

  it("with api.coin_lease.enabled false, every request reserves in the database as before", async () => {
    const c = await insertClient(rig.db, "reserving");
    const openai = rig.openai((await insertKey(rig.db, c.id, "main")).plaintext);
    const saved = rig.config;
    rig.config = { ...saved, api: { ...saved.api, coin_lease: { ...saved.api.coin_lease, enabled: false } } };
    try {
      await openai.chat.completions.create(ask);
      const from = counted!.calls.length;
      await openai.chat.completions.create(ask);
      const made = counted!.calls.slice(from);
      expect(made.filter((k) => k === "lease")).toEqual([]);
      expect(made.filter((k) => k === "execute")).toHaveLength(1); // the reservation
      expect(await rig.db.select().from(coinPools).where(eq(coinPools.clientId, c.id))).toMatchObject([{ leased: "0.000000" }]);
    } finally {
      rig.config = saved;
    }
  });
});
