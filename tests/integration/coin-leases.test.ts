/**
 * Coin leases (lib/coins/lease.ts, lease-sql.ts) on PGlite and PostgreSQL: admission in memory once a
 * lease is held, the 2, 2, 1, 429 outcome of a 5-coin pool, settlement against the lease or — once the
 * lease was swept — the pool, exactly once; expiry, return and shutdown; the refill cap with a held
 * lease; and, on PostgreSQL, two instances (two lease books on two connection pools) sharing one pool
 * under concurrent admissions, settlements, returns and sweeps: the money equation holds in every
 * snapshot, nothing deadlocks, and the pool is never overspent beyond the README's bound.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { eq, sql } from "drizzle-orm";
import { rows, type Db } from "@/lib/db/client";
import { coinLeases, coinPools } from "@/lib/db/schema";
import { modelSchema } from "@/lib/config/schema";
import { inFlightSeconds, release, type Admission, type Refusal } from "@/lib/coins/admission";
import { accountingMismatches, accountingTotals } from "@/lib/coins/audit";
import { costOf } from "@/lib/coins/cost";
import { formatMicro, parseCoins } from "@/lib/coins/decimal";
import { LEASE_TIMINGS, LeaseBook, type LeaseTimings } from "@/lib/coins/lease";
import { sweepExpiredLeases } from "@/lib/coins/lease-sql";
import type { PoolConfig } from "@/lib/coins/pool";
import { settle, type RequestRecord } from "@/lib/coins/settle";
import { readPool } from "@/lib/coins/store";
import { backends, useBackend, useTwoInstances } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "integration-test-secret-0123456789-abcdef";

const MODEL = modelSchema.parse({ name: "m", input_cost_per_million: 0, output_cost_per_million: 1_000_000, endpoints: [{ url: "builtin:echo" }] });
/** Output tokens → coins: 1 token = 1 coin. */
const cost = (tokens: number) => costOf(MODEL, 0, tokens);
const capped = (max: number, starting = max, refresh = 0): PoolConfig => ({ max, refresh, starting });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** api.upstream_timeout_s of the admissions: a lease's hold is inFlightSeconds(TIMEOUT_S) = 65 s unless the timings fix it. */
const TIMEOUT_S = 5;

let seq = 0;
async function newClient(db: Db, balance?: string) {
  const client = await insertClient(db, `lease-${process.pid}-${++seq}`);
  const key = await insertKey(db, client.id, "main");
  if (balance !== undefined) await db.insert(coinPools).values({ clientId: client.id, balance });
  return { clientId: client.id, keyId: key.row.id };
}

function record(c: { clientId: string; keyId: string }, tokens: number): RequestRecord {
  return {
    clientId: c.clientId, clientName: "lease-client", keyId: c.keyId, model: MODEL.name, endpoint: "builtin:echo", status: 200,
    inputTokens: 0, outputTokens: tokens, coins: cost(tokens), durationMs: 5, ttftMs: null, streamed: false, usageEstimated: false, errorCode: null,
  };
}

function leased(result: Admission | Refusal): Extract<Admission, { kind: "leased" }> {
  if (result.kind !== "leased") throw new Error(`expected a leased admission, got ${JSON.stringify(result)}`);
  return result;
}

/** Counts the statements a Db runs (a real database underneath: only `execute` is wrapped). */
function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const wrapped = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "execute") return (...args: unknown[]) => (n++, (target.execute as (...a: unknown[]) => unknown).apply(target, args));
      return Reflect.get(target, prop, receiver);
    },
  });
  return { db: wrapped, count: () => n };
}

/** The pool row, the leases and the log of a client, in one snapshot. */
async function ledger(db: Db, clientId: string) {
  const [row] = await rows<{ balance: string; leased: string; leases: string; n: number; logged: string }>(
    db,
    sql`select p.balance::text as balance, p.leased::text as leased,
          (select coalesce(sum(amount), 0) from coin_leases where client_id = p.client_id)::numeric(30, 6)::text as leases,
          (select count(*)::int from coin_leases where client_id = p.client_id) as n,
          (select coalesce(sum(coins), 0) from request_log where client_id = p.client_id)::numeric(30, 6)::text as logged
        from coin_pools p where p.client_id = ${clientId}`,
  );
  if (!row) throw new Error("pool row missing");
  return { balance: row.balance, leased: row.leased, leases: row.leases, count: row.n, logged: row.logged, real: formatMicro(parseCoins(row.balance) + parseCoins(row.leased)) };
}

const fast = (over: Partial<LeaseTimings> = {}): LeaseTimings => ({ ...LEASE_TIMINGS, tickMs: 50, ...over });

describe.each(backends())("coin leases on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  const books: LeaseBook[] = [];
  const book = (d: Db = db, t: LeaseTimings = LEASE_TIMINGS) => {
    const b = new LeaseBook(d, t);
    books.push(b);
    return b;
  };
  afterAll(async () => {
    for (const b of books) await b.close().catch(() => {});
  });

  it("admits from a held lease in memory: no statement, resolved within microtasks; release is in memory too", async () => {
    const c = await newClient(db, "1000");
    const counted = counting(db);
    const b = book(counted.db);
    const ask = () => b.admit({ clientId: c.clientId, pool: capped(1000), estimate: "1", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S });
    // Cold: the first request tops up; those arriving meanwhile wait and share one more top-up.
    const warm = await Promise.all(Array.from({ length: 50 }, ask));
    expect(warm.every((a) => a.kind === "leased")).toBe(true);
    await sleep(100); // a background top-up (low water) may follow
    const n = counted.count();
    expect(n).toBeLessThanOrEqual(4); // two top-ups, and at most two in the background
    for (const a of warm) await release(counted.db, leased(a));
    expect(counted.count()).toBe(n);
    expect(b.available(c.clientId)).toMatchObject({ inflight: "0.000000" });
    // Warm: each admission is answered before any database round trip could have happened.
    for (let i = 0; i < 20; i++) {
      let answered = false;
      const pending = ask().then((r) => ((answered = true), leased(r)));
      for (let k = 0; k < 3; k++) await Promise.resolve();
      expect(answered).toBe(true);
      await pending;
    }
    // The lease (51 after the releases) covered all 20; at the rate just seen it may top up once in the background.
    expect(counted.count()).toBeLessThanOrEqual(n + 1);
    expect(b.stats.waited).toBe(50); // the cold ones; the 20 warm ones came from memory
    expect(b.stats.fromMemory).toBe(20);
    // A background top-up may have committed without having answered yet (its row ahead of the book's
    // memory): wait, bounded, until the two agree, then check.
    let l = await ledger(db, c.clientId);
    for (let i = 0; i < 40 && parseCoins(l.leased) !== parseCoins(b.available(c.clientId)!.amount); i++) {
      await sleep(50);
      l = await ledger(db, c.clientId);
    }
    expect(l.real).toBe("1000.000000");
    expect(parseCoins(l.leased)).toBe(parseCoins(b.available(c.clientId)!.amount));
  });

  it("a 5-coin pool and estimates of 2: 2, 2, 1, then exhausted; each billed 2, the real balance ends at −1", async () => {
    const c = await newClient(db, "5");
    const b = book();
    const ask = () => b.admit({ clientId: c.clientId, pool: capped(5), estimate: "2", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S });
    const taken: string[] = [];
    for (let i = 0; i < 3; i++) {
      const a = leased(await ask());
      taken.push(a.amount);
      await settle(db, a, record(c, 2));
    }
    expect(taken).toEqual(["2.000000", "2.000000", "1.000000"]);
    expect(await ask()).toEqual({ kind: "refused", reason: "exhausted", retryAfterSeconds: null });
    expect((await ledger(db, c.clientId)).real).toBe("-1.000000");
    expect((await readPool(db, c.clientId, capped(5)))?.balance).toBe("-1.000000");
    // Concurrent: 6 at once on a fresh 5-coin pool → three admitted (2, 2, 1), three refused.
    const d = await newClient(db, "5");
    const results = await Promise.all(Array.from({ length: 6 }, () => b.admit({ clientId: d.clientId, pool: capped(5), estimate: "2", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S })));
    expect(results.filter((r) => r.kind === "leased").map((r) => (r as { amount: string }).amount)).toEqual(["2.000000", "2.000000", "1.000000"]);
    expect(results.filter((r) => r.kind === "refused")).toHaveLength(3);
  });

  it("settles against the lease; after a sweeper returned the lease, against the pool — once, however often settled", async () => {
    const c = await newClient(db, "100");
    const b = book();
    const a = leased(await b.admit({ clientId: c.clientId, pool: capped(100), estimate: "3", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S }));
    const x = leased(await b.admit({ clientId: c.clientId, pool: capped(100), estimate: "3", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S }));
    await sleep(100); // the background top-up (low water)
    const held = parseCoins((await ledger(db, c.clientId)).leased);
    expect(held).toBeGreaterThanOrEqual(parseCoins("6"));
    await settle(db, a, { ...record(c, 2), settlementId: crypto.randomUUID(), at: new Date() });
    // Charged to the lease: the pool's own balance does not move, the real balance does.
    expect(await ledger(db, c.clientId)).toMatchObject({
      balance: formatMicro(parseCoins("100") - held),
      leased: formatMicro(held - parseCoins("2")),
      leases: formatMicro(held - parseCoins("2")),
      real: "98.000000",
    });
    // The holder stops renewing (a crash, a cut-off): expired a minute ago, but held for the requests
    // that may still be in flight (the hold from the admissions' upstream timeout: 5 + 60 s).
    const [{ hold }] = await rows<{ hold: number }>(db, sql`select extract(epoch from hold)::float8 as hold from coin_leases where client_id = ${c.clientId}`) as [{ hold: number }];
    expect(hold).toBe(inFlightSeconds(TIMEOUT_S));
    await db.update(coinLeases).set({ expiresAt: new Date(Date.now() - 60_000) }).where(eq(coinLeases.clientId, c.clientId));
    expect(await sweepExpiredLeases(db)).toBe(0);
    // Past expiry + hold: two sweepers return it once.
    await db.update(coinLeases).set({ expiresAt: new Date(Date.now() - (inFlightSeconds(TIMEOUT_S) + 1) * 1000) }).where(eq(coinLeases.clientId, c.clientId));
    const swept = await Promise.all([sweepExpiredLeases(db), sweepExpiredLeases(db)]);
    expect(swept[0] + swept[1]).toBe(1);
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "98.000000", leased: "0.000000", count: 0, real: "98.000000" });
    const id = crypto.randomUUID();
    const keyed = { ...record(c, 3), settlementId: id, at: new Date() }; // stamped once, as SettleQueue does
    await settle(db, x, keyed);
    await settle(db, { ...x }, keyed); // a retry of the same settlement
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "95.000000", leased: "0.000000", logged: "5.000000", real: "95.000000" });
    expect(accountingMismatches(await accountingTotals(db, c.clientId))).toEqual([]);
    // The book notices at its next top-up: a new lease, taken afresh.
    const y = leased(await b.admit({ clientId: c.clientId, pool: capped(100), estimate: "50", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S }));
    expect(y.leaseId).not.toBe(x.leaseId);
    const after = await ledger(db, c.clientId);
    expect(after).toMatchObject({ real: "95.000000", leases: after.leased });
    expect(parseCoins(after.leased)).toBeGreaterThanOrEqual(parseCoins("50"));
  });

  it("holds a lease its holder stopped renewing until its requests must have ended: the late settlement is charged to the lease, only the rest returns", async () => {
    // README "Overspend, bounded by construction": a request admitted just before the margin may be in
    // flight for up to its deadline after the lease expired. Were the lease returned at its expiry, its
    // estimate would go back to the pool, another instance could spend it, and the late settlement would
    // then be charged to the pool in full: −3 here instead of the bound −(c − r) = −1.
    const HOLD_MS = 60_000;
    const c = await newClient(db, "4");
    const cfg = capped(4);
    const b = book(db, fast({ ttlMs: 400, marginMs: 200, holdMs: HOLD_MS, renewMs: 3_600_000, idleMs: 3_600_000 }));
    const other = book(db);
    const ask = (from: LeaseBook) => from.admit({ clientId: c.clientId, pool: cfg, estimate: "2", maxFraction: 1, timeoutSeconds: TIMEOUT_S });
    const a = leased(await ask(b)); // the lease takes the whole pool: 2 + a target of 2
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "0.000000", leased: "4.000000" });
    await release(db, a);
    await sleep(150); // just before sent + ttl − margin (or, on a slow machine, after a renewing top-up: the same lease)
    const x = leased(await ask(b));
    expect(x.leaseId).toBe(a.leaseId);
    // The holder renews no more (cut off, or dead): the lease's ttl passes, its hold does not.
    await db.update(coinLeases).set({ expiresAt: new Date(Date.now() - 1_000) }).where(eq(coinLeases.clientId, c.clientId));
    expect(await sweepExpiredLeases(db)).toBe(0);
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "0.000000", leased: "4.000000", count: 1 });
    // Its coins stay out of reach meanwhile (the availability cost): another instance finds the pool empty.
    expect(await ask(other)).toMatchObject({ kind: "refused", reason: "exhausted" });
    // The late settlement (3 against an estimate of 2) is charged to the lease, not the pool.
    await settle(db, x, record(c, 3));
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "0.000000", leased: "1.000000", leases: "1.000000", real: "1.000000" });
    // Past expiry + hold: the sweep returns only the remainder.
    await db.update(coinLeases).set({ expiresAt: new Date(Date.now() - HOLD_MS - 1_000) }).where(eq(coinLeases.clientId, c.clientId));
    expect(await sweepExpiredLeases(db)).toBe(1);
    const l = await ledger(db, c.clientId);
    expect(l).toMatchObject({ balance: "1.000000", leased: "0.000000", count: 0, real: "1.000000", logged: "3.000000" });
    // Spent by the other instance, the pool ends at −1 = −(c − r): never below the overrun.
    const y = leased(await ask(other));
    expect(y.amount).toBe("1.000000");
    await settle(db, y, record(c, 2));
    await other.close();
    expect((await ledger(db, c.clientId)).balance).toBe("-1.000000");
    expect(accountingMismatches(await accountingTotals(db, c.clientId))).toEqual([]);
  });

  it("writes the hold from the admissions' upstream timeout; a longer one (a config reload) is written before a request that needs it is admitted", async () => {
    const c = await newClient(db, "100");
    const b = book();
    const ask = (timeoutSeconds: number) => b.admit({ clientId: c.clientId, pool: capped(100), estimate: "1", maxFraction: 0.1, timeoutSeconds });
    const hold = async () =>
      (await rows<{ hold: number }>(db, sql`select extract(epoch from hold)::float8 as hold from coin_leases where client_id = ${c.clientId}`))[0]!.hold;
    const first = leased(await ask(TIMEOUT_S));
    expect(await hold()).toBe(inFlightSeconds(TIMEOUT_S));
    leased(await ask(TIMEOUT_S));
    expect(b.stats).toEqual({ fromMemory: 1, waited: 1 });
    const longer = leased(await ask(100)); // needs a hold of 160 s: a top-up writes it first
    expect(b.stats).toEqual({ fromMemory: 1, waited: 2 });
    expect(longer.leaseId).toBe(first.leaseId);
    expect(await hold()).toBe(inFlightSeconds(100));
    leased(await ask(TIMEOUT_S)); // never shortened while the book lives: from memory again
    expect(b.stats).toEqual({ fromMemory: 2, waited: 2 });
    expect(await hold()).toBe(inFlightSeconds(100));
  });

  it("returns an idle lease to the pool, renews an active one, and close() returns every lease", async () => {
    const c = await newClient(db, "100");
    const d = await newClient(db, "100");
    const b = book(db, fast({ idleMs: 300, renewMs: 100 }));
    const a = leased(await b.admit({ clientId: c.clientId, pool: capped(100), estimate: "1", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S }));
    await release(db, leased(await b.admit({ clientId: d.clientId, pool: capped(100), estimate: "1", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S })));
    const [before] = await db.select().from(coinLeases).where(eq(coinLeases.clientId, c.clientId));
    await sleep(600);
    // c has a request in flight: kept and renewed; d is idle: returned.
    const [renewed] = await db.select().from(coinLeases).where(eq(coinLeases.clientId, c.clientId));
    expect(renewed!.expiresAt.getTime()).toBeGreaterThan(before!.expiresAt.getTime());
    expect(await ledger(db, d.clientId)).toMatchObject({ balance: "100.000000", leased: "0.000000", count: 0 });
    await settle(db, a, record(c, 1));
    await b.close();
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "99.000000", leased: "0.000000", count: 0, real: "99.000000" });
  });

  it("stops admitting from a lease it can no longer renew (past sent + ttl − margin): the next admission asks the database", async () => {
    const c = await newClient(db, "100");
    const b = book(db, fast({ ttlMs: 400, marginMs: 200, renewMs: 60_000 }));
    const ask = () => b.admit({ clientId: c.clientId, pool: capped(100), estimate: "1", maxFraction: 0.1, timeoutSeconds: TIMEOUT_S });
    /** Whether the admission was answered within microtasks, i.e. without a database round trip. */
    const fromMemory = async () => {
      let answered = false;
      const pending = ask().then((r) => ((answered = true), leased(r)));
      for (let k = 0; k < 3; k++) await Promise.resolve();
      const quick = answered;
      await pending;
      return quick;
    };
    await Promise.all(Array.from({ length: 10 }, ask)); // a lease with room
    await sleep(50);
    expect(await fromMemory()).toBe(true);
    await sleep(250); // past sent + 400 − 200 ms
    expect(await fromMemory()).toBe(false); // a top-up (which renews it) first
    expect(await fromMemory()).toBe(true);
  });

  it("caps the refill at max counting the coins a lease holds", async () => {
    const c = await newClient(db);
    const b = book();
    const cfg = capped(10, 10, 5);
    const ask = (estimate: string) => b.admit({ clientId: c.clientId, pool: cfg, estimate, maxFraction: 1, timeoutSeconds: TIMEOUT_S });
    const first = leased(await ask("4")); // takes 4 + a target of 4
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "2.000000", leased: "8.000000" });
    await db.execute(sql`update coin_pools set refilled_at = refilled_at - interval '2 hours' where client_id = ${c.clientId}`);
    // Two hours × 5 would give 10 more to the pool's own 2; the real balance (2 + 8 held) is already at max.
    expect((await readPool(db, c.clientId, cfg))?.balance).toBe("10.000000");
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "2.000000", leased: "8.000000" });
    const second = leased(await ask("6")); // the lease's 4 left + the pool's 2
    await settle(db, first, record(c, 4));
    await settle(db, second, record(c, 6));
    expect(await ledger(db, c.clientId)).toMatchObject({ balance: "0.000000", leased: "0.000000", real: "0.000000" });
    await db.execute(sql`update coin_pools set refilled_at = refilled_at - interval '1 hour' where client_id = ${c.clientId}`);
    expect((await readPool(db, c.clientId, cfg))?.balance).toBe("5.000000");
    await db.execute(sql`update coin_pools set refilled_at = refilled_at - interval '2 hours' where client_id = ${c.clientId}`);
    expect((await readPool(db, c.clientId, cfg))?.balance).toBe("10.000000");
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL?.trim())("coin leases: two instances sharing a pool on PostgreSQL", () => {
  const handles = useTwoInstances();

  it("concurrent admissions, settlements, returns and sweeps: the money equation holds in every snapshot, no deadlock, overspend within the bound", async () => {
    const [one, two] = handles.map((h) => h.db) as [Db, Db];
    const t = fast({ idleMs: 30, renewMs: 40, tickMs: 10 });
    const books = [new LeaseBook(one, t), new LeaseBook(two, t)];
    // A third instance that never renews (as if cut off): its leases expire 60 ms after each top-up
    // (it stops using them 30 ms before) and the sweeper returns them DYING_HOLD_MS later, while the
    // others run: a second wave of their requests goes on until every one of its leases is back, and
    // spends what came back. Its requests take a few ms here (≤ 12 ms of "upstream" and one
    // settlement); the hold stands for their deadline (production: inFlightSeconds(upstream_timeout_s))
    // and is many times longer, so each of them is settled against its lease before the lease can be
    // returned. With a hold shorter than a request (0: returned at expiry, as before), a late settlement
    // lands on a pool another instance may already have spent: the bound below can fail.
    const DYING_HOLD_MS = 1_500;
    const dying = new LeaseBook(two, fast({ ttlMs: 60, marginMs: 30, holdMs: DYING_HOLD_MS, renewMs: 3_600_000, idleMs: 3_600_000, tickMs: 10 }));
    const clients = [await newClient(one, "60"), await newClient(one, "60"), await newClient(one, "60")];
    const cfg = capped(60);
    let done = false;
    const overruns = new Map<string, bigint>();
    const problems: string[] = [];
    let admitted = 0;
    let refused = 0;

    let swept = 0;
    const sweeper = async () => {
      while (!done) {
        swept += await sweepExpiredLeases(two);
        await sleep(15);
      }
    };
    const sampler = async () => {
      while (!done) {
        for (const c of clients) {
          const l = await ledger(one, c.clientId);
          if (l.leased !== l.leases) problems.push(`leased ${l.leased} ≠ Σ leases ${l.leases}`);
          if (formatMicro(parseCoins(l.real) + parseCoins(l.logged)) !== "60.000000") problems.push(`real ${l.real} + logged ${l.logged} ≠ 60`);
        }
        await sleep(5);
      }
    };
    const FIRST_WAVE = 300;
    const request = async (i: number) => {
      const c = clients[i % clients.length]!;
      // The first wave (started within 200 ms): one in five from the dying instance; the second wave
      // from the two live ones only.
      const b = i < FIRST_WAVE && i % 5 === 0 ? dying : books[i % 2]!;
      if (i < FIRST_WAVE) await sleep((i * 7) % 200);
      const r = await b.admit({ clientId: c.clientId, pool: cfg, estimate: "2", maxFraction: 0.2, timeoutSeconds: TIMEOUT_S });
      if (r.kind === "refused") return refused++;
      admitted++;
      const a = leased(r);
      await sleep(i % 13);
      if (i % 10 === 1) return release(b === books[0] ? one : two, a);
      // 2 or 3 coins against 2 estimated (overruns too), never less than taken: the bound below is then
      // tight — the final balance is 60 − Σ c ≥ −Σ (c − r) exactly when the settled requests took Σ r ≤ 60.
      const tokens = 2 + (i % 2);
      const over = parseCoins(cost(tokens)) - parseCoins(a.amount);
      if (over > 0n) overruns.set(c.clientId, (overruns.get(c.clientId) ?? 0n) + over);
      await settle(i % 3 === 0 ? two : one, a, record(c, tokens)); // settled through either connection pool
    };
    // Background top-ups, renewals and returns log their failures (a deadlock would show as 40P01).
    const warnings: string[] = [];
    const warn = vi.spyOn(console, "warn").mockImplementation((line: unknown) => void warnings.push(String(line)));
    const background = [sweeper(), sampler()];
    try {
      let firstDone = false;
      const first = Promise.all(Array.from({ length: FIRST_WAVE }, (_, i) => request(i))).finally(() => (firstDone = true));
      // The second wave: one request every 15 ms until the dying instance (whose requests all ended
      // with the first wave) has no lease left — each back ttl + hold after its last top-up — and
      // 20 more; at most 30 s (then `swept` and the lease count below fail).
      const second: Promise<unknown>[] = [];
      const dyingLeases = async () =>
        (await rows<{ n: number }>(one, sql`select count(*)::int as n from coin_leases where holder = ${dying.holder}`))[0]!.n;
      const deadline = Date.now() + 30_000;
      for (let i = FIRST_WAVE, beyond = 20; beyond > 0 && Date.now() < deadline; i++) {
        second.push(request(i));
        await sleep(15);
        if (firstDone && beyond === 20 && (await dyingLeases()) > 0) continue;
        if (firstDone) beyond--;
      }
      await first;
      await Promise.all(second);
    } finally {
      done = true;
      await Promise.all(background);
      warn.mockRestore();
    }
    expect(warnings).toEqual([]);
    for (const b of books) await b.close();
    expect(problems).toEqual([]);
    expect(swept).toBeGreaterThan(0); // the dying instance's leases came back while the others ran
    expect(admitted).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(0);
    for (const c of clients) {
      const l = await ledger(one, c.clientId);
      expect(l).toMatchObject({ count: 0, leased: "0.000000" });
      expect(formatMicro(parseCoins(l.balance) + parseCoins(l.logged))).toBe("60.000000");
      // README: never below −Σ(e − r) of the requests in flight; here bounded by the client's overruns settled.
      expect(parseCoins(l.balance)).toBeGreaterThanOrEqual(-(overruns.get(c.clientId) ?? 0n));
      expect(accountingMismatches(await accountingTotals(one, c.clientId))).toEqual([]);
    }
  }, 60_000);
});
