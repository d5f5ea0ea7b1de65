import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { coinPools } from "@/lib/db/schema";
import { readPool } from "@/lib/coins/store";
import { refillPool, type PoolConfig } from "@/lib/coins/pool";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";

const T0 = new Date("2026-03-01T10:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const pool = (max: number, refresh: number, starting = max): PoolConfig => ({ max, refresh, starting });

interface Case {
  name: string;
  balance: string;
  cfg: PoolConfig;
  minutes: number;
}

const CASES: Case[] = [
  { name: "59 minutes: nothing", balance: "10", cfg: pool(100, 2), minutes: 59 },
  { name: "61 minutes: one hour", balance: "10", cfg: pool(100, 2), minutes: 61 },
  { name: "5.5 hours: five", balance: "10", cfg: pool(100, 2), minutes: 330 },
  { name: "exactly 3 hours", balance: "10", cfg: pool(100, 2), minutes: 180 },
  { name: "capped at max", balance: "98", cfg: pool(100, 5), minutes: 120 },
  { name: "already full", balance: "100", cfg: pool(100, 5), minutes: 600 },
  { name: "above a lowered max, hours passed", balance: "500", cfg: pool(100, 5), minutes: 600 },
  { name: "above a lowered max, no hour passed", balance: "500", cfg: pool(100, 5), minutes: 30 },
  { name: "negative balance refills", balance: "-3.5", cfg: pool(100, 1), minutes: 120 },
  { name: "negative balance past zero", balance: "-3.5", cfg: pool(100, 1), minutes: 300 },
  { name: "small refresh, exact", balance: "0", cfg: pool(100, 0.05), minutes: 7 * 60 + 59 },
  { name: "one micro-coin per hour for a year", balance: "0", cfg: pool(100, 0.000001), minutes: 365 * 24 * 60 },
  { name: "refresh 0", balance: "42.123456", cfg: pool(100, 0), minutes: 1000 },
  { name: "clock behind the anchor", balance: "5", cfg: pool(100, 1), minutes: -120 },
  { name: "fractional max", balance: "0.5", cfg: pool(0.75, 0.1), minutes: 600 },
];

describe.each(backends())("coin pool store on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));


  let n = 0;
  const newClient = async () => (await insertClient(db, `pool-client-${++n}`)).id;
  const setPool = (clientId: string, balance: string, refilledAt: Date) =>
    db.insert(coinPools).values({ clientId, balance, refilledAt });
  const stored = async (clientId: string) => {
    const [row] = await db.select().from(coinPools).where(eq(coinPools.clientId, clientId));
    return row;
  };

  it.each(CASES)("SQL refill equals refillPool: $name", async ({ balance, cfg, minutes }) => {
    const id = await newClient();
    await setPool(id, balance, T0);
    const expected = refillPool({ balance, refilledAt: T0 }, cfg, at(minutes));
    const got = await readPool(db, id, cfg, at(minutes));
    expect(got).toEqual({ balance: expected.balance, refilledAt: expected.refilledAt });
    const row = await stored(id);
    expect(row?.balance).toBe(expected.balance);
    expect(row?.refilledAt.getTime()).toBe(expected.refilledAt.getTime());
  });

  it("creates a missing pool at starting, anchored now", async () => {
    const id = await newClient();
    expect(await readPool(db, id, pool(100, 1, 25), T0)).toEqual({ balance: "25.000000", refilledAt: T0 });
    // Later reads refill from that anchor; starting no longer matters.
    expect(await readPool(db, id, pool(100, 1, 99), at(125))).toEqual({ balance: "27.000000", refilledAt: at(120) });
  });

  it("uses the database clock by default", async () => {
    const id = await newClient();
    const before = Date.now();
    const got = await readPool(db, id, pool(10, 1, 3));
    expect(got?.balance).toBe("3.000000");
    expect(Math.abs((got?.refilledAt.getTime() ?? 0) - before)).toBeLessThan(60_000);
  });

  it("has no pool for unlimited (max -2) or blocked (max 0) and writes nothing", async () => {
    const id = await newClient();
    expect(await readPool(db, id, pool(-2, 5, 0), T0)).toBeNull();
    expect(await readPool(db, id, pool(0, 5, 0), T0)).toBeNull();
    expect(await stored(id)).toBeUndefined();
  });

  it("credits each hour exactly once under 20 concurrent reads", async () => {
    const id = await newClient();
    await setPool(id, "10", T0);
    const cfg = pool(100, 1.5);
    const results = await Promise.all(Array.from({ length: 20 }, () => readPool(db, id, cfg, at(5 * 60 + 30))));
    for (const r of results) expect(r).toEqual({ balance: "17.500000", refilledAt: at(300) });
    const row = await stored(id);
    expect(row?.balance).toBe("17.500000");
    expect(row?.refilledAt.getTime()).toBe(at(300).getTime());

    // Concurrent reads at increasing times: the end state depends only on the last hour reached.
    await Promise.all(Array.from({ length: 20 }, (_, i) => readPool(db, id, cfg, at(5 * 60 + 30 + i * 45))));
    const later = refillPool({ balance: "17.500000", refilledAt: at(300) }, cfg, at(5 * 60 + 30 + 19 * 45));
    const end = await readPool(db, id, cfg, at(5 * 60 + 30 + 19 * 45));
    expect(end).toEqual({ balance: later.balance, refilledAt: later.refilledAt });
  });

  it("loses no concurrent charge and credits each hour once when reads and charges interleave", async () => {
    const id = await newClient();
    await setPool(id, "10", T0);
    const cfg = pool(100, 2);
    const charge = () => db.execute(sql`update coin_pools set balance = balance - 0.25 where client_id = ${id}`);
    // Races are timing-dependent: several rounds make a lost update or a double credit show up.
    for (let round = 0; round < 10; round++) {
      const hour = (h: number) => at(60 * (4 * round + h) + 1);
      await Promise.all(Array.from({ length: 20 }, (_, i) => [readPool(db, id, cfg, hour(1 + (i % 4))), charge()]).flat());
      // Hours 1–4 of the round are credited once each (+8), the 20 charges all count (−5).
      const end = await readPool(db, id, cfg, hour(4));
      expect(end).toEqual({ balance: `${10 + 3 * (round + 1)}.000000`, refilledAt: at(60 * (4 * round + 4)) });
    }
  });

  it("creates a pool once under 20 concurrent first reads", async () => {
    const id = await newClient();
    const results = await Promise.all(Array.from({ length: 20 }, () => readPool(db, id, pool(50, 2, 7), T0)));
    for (const r of results) expect(r).toEqual({ balance: "7.000000", refilledAt: T0 });
    const [count] = (await db.select({ n: sql<number>`count(*)::int` }).from(coinPools).where(eq(coinPools.clientId, id)));
    expect(Number(count?.n)).toBe(1);
  });

  it("works inside a transaction", async () => {
    const id = await newClient();
    await setPool(id, "1", T0);
    const got = await db.transaction((tx) => readPool(tx, id, pool(10, 1), at(180)));
    expect(got).toEqual({ balance: "4.000000", refilledAt: at(180) });
  });
});
