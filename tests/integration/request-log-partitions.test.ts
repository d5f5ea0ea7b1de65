/**
 * The request log partitioned by month (drizzle/0011_request_log_partitions.sql, lib/db/partitions.ts):
 * the migration carries an existing log over, rows land in their month (or in DEFAULT when no month
 * fits), upkeep is idempotent and safe twice at once, retention drops whole months — never a DELETE —
 * and every counter, rollup and the audit equation stay exact; a settlement retried after a lost answer
 * hits its own row.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { accountingMismatches, accountingTotals } from "@/lib/coins/audit";
import { settleMany, type RequestRecord } from "@/lib/coins/settle";
import { SettleQueue } from "@/lib/coins/settle-queue";
import { migrationsFolder, rows, type Db } from "@/lib/db/client";
import { DEFAULT_PARTITION, listPartitions, maintainRequestLog, monthPartition } from "@/lib/db/partitions";
import { backends, useBackend } from "../helpers/backend";
import { createServerDatabase } from "../helpers/db";
import { insertClient } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "integration-test-secret-0123456789-abcdef";

const PARTITIONS_MIGRATION = "0011_request_log_partitions";
/** A retention that drops nothing in these tests (they run at dates years ahead). */
const KEEP_ALL = 100_000;

/** A copy of drizzle/ that stops before the partitioning migration: the schema of an existing install. */
function migrationsBefore(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-migrations-"));
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder(), "meta/_journal.json"), "utf8")) as {
    entries: Array<{ idx: number; tag: string }>;
  };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  expect(cut).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, cut);
  fs.mkdirSync(path.join(dir, "meta"));
  fs.writeFileSync(path.join(dir, "meta/_journal.json"), JSON.stringify(journal));
  for (const e of journal.entries) fs.copyFileSync(path.join(migrationsFolder(), `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  return dir;
}

interface Opened {
  db: Db;
  migrate(folder: string): Promise<void>;
  close(): Promise<void>;
}

/** A fresh database of `kind`, migrated by hand (openDatabase would apply every migration at once). */
async function openBare(kind: "pglite" | "postgres"): Promise<Opened> {
  if (kind === "pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const client = new PGlite({ extensions: { pg_trgm } });
    const db = drizzle(client);
    return { db: db as unknown as Db, migrate: (folder) => migrate(db, { migrationsFolder: folder }), close: () => client.close() };
  }
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  const created = await createServerDatabase(process.env.TEST_DATABASE_URL!);
  const client = postgres(created.url, { max: 2, onnotice: () => {} });
  const db = drizzle(client);
  return {
    db: db as unknown as Db,
    migrate: (folder) => migrate(db, { migrationsFolder: folder }),
    async close() {
      await client.end();
      await created.drop();
    },
  };
}

const partitionOf = async (db: Db, where: ReturnType<typeof sql>) =>
  (await rows<{ p: string }>(db, sql`select tableoid::regclass::text as p from request_log where ${where}`)).map((r) => r.p);

async function newClient(db: Db, label: string) {
  const client = await insertClient(db, `part-${label}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const key = await insertKey(db, client.id, "main");
  return { clientId: client.id, keyId: key.row.id };
}

function record(c: { clientId: string; keyId: string | null }, at: Date, tokens: number, extra: Partial<RequestRecord> = {}): RequestRecord {
  return {
    clientId: c.clientId,
    clientName: "partitions",
    keyId: c.keyId,
    model: "acme/chat",
    endpoint: "builtin:echo",
    status: 200,
    inputTokens: tokens,
    outputTokens: 2 * tokens,
    coins: `${tokens}.000001`,
    audioSeconds: 1.5,
    durationMs: 10,
    ttftMs: 2,
    streamed: false,
    usageEstimated: false,
    errorCode: null,
    settlementId: crypto.randomUUID(),
    at,
    ...extra,
  };
}

const settleAll = (db: Db, records: RequestRecord[]) => settleMany(db, records.map((r) => ({ admission: { kind: "unlimited" as const }, record: r })));

/** Every counter and rollup row of the given clients, as text: what retention must leave alone. */
async function countersOf(db: Db, clientIds: string[]) {
  const ids = sql.join(clientIds.map((id) => sql`${id}::uuid`), sql`, `);
  return rows(
    db,
    sql`select 'client' as t, id::text as k, requests, input_tokens, output_tokens, coins_spent::text, audio_seconds::text from clients where id in (${ids})
        union all select 'key', id::text, requests, input_tokens, output_tokens, coins_spent::text, audio_seconds::text from api_keys where client_id in (${ids})
        union all select 'model', client_id::text || model, requests, input_tokens, output_tokens, coins_spent::text, audio_seconds::text from client_model_usage where client_id in (${ids})
        union all select 'day', client_id::text || day::text || model, requests, input_tokens, output_tokens, coins_spent::text, audio_seconds::text from client_daily_usage where client_id in (${ids})
        order by 1, 2`,
  );
}

describe("migrating an existing request log to monthly partitions", () => {
  for (const kind of backends().map((b) => b.name)) {
    it(`[${kind}] carries every row over into its month, keeps ids and the id sequence`, async () => {
      const bare = await openBare(kind);
      try {
        await bare.migrate(migrationsBefore(PARTITIONS_MIGRATION));
        const c = await newClient(bare.db, "old");
        await bare.db.execute(sql`
          insert into request_log (created_at, client_id, key_id, model, status, input_tokens, output_tokens, coins, settlement_id, request_id)
          select t, ${c.clientId}, ${c.keyId}, 'acme/chat', 200, 10, 20, 0.5, gen_random_uuid(), 'r' || n
          from (values (1, '2024-01-31T23:59:59.999Z'::timestamptz), (2, '2024-02-01T00:00:00Z'), (3, '2025-07-15T12:00:00Z'),
                       (4, now())) v(n, t)`);
        const before = await rows(bare.db, sql`select id, created_at, settlement_id::text, request_id from request_log order by id`);
        expect(before).toHaveLength(4);
        await bare.migrate(migrationsFolder());
        expect(await rows(bare.db, sql`select id, created_at, settlement_id::text, request_id from request_log order by id`)).toEqual(before);
        expect(await partitionOf(bare.db, sql`request_id in ('r1', 'r2', 'r3') order by id`)).toEqual([
          "request_log_y2024m01",
          "request_log_y2024m02",
          "request_log_y2025m07",
        ]);
        expect(await partitionOf(bare.db, sql`request_id = 'r4'`)).toEqual([monthPartition(new Date()).name]);
        const { months, hasDefault } = await listPartitions(bare.db);
        expect(hasDefault).toBe(true);
        for (let i = 0; i <= 2; i++) expect(months.map((p) => p.name)).toContain(monthPartition(new Date(), i).name);
        // The sequence went along: a new row continues after the carried ones; keys hold.
        const [next] = await rows<{ id: string }>(
          bare.db,
          sql`insert into request_log (client_id, model, status) values (${c.clientId}, 'acme/chat', 200) returning id::text`,
        );
        expect(Number(next!.id)).toBeGreaterThan(4);
        const dup = sql`insert into request_log (created_at, client_id, model, status, settlement_id)
          select created_at, client_id, model, status, settlement_id from request_log where request_id = 'r3'`;
        await expect(bare.db.execute(dup)).rejects.toThrow();
      } finally {
        await bare.close();
      }
    });
  }
});

describe.each(backends())("request log partitions on $name", (backend) => {
  let db!: Db;
  useBackend(backend, (h) => (db = h.db));

  it("upkeep creates this month and the next two once, also when two runs race", async () => {
    const now = new Date("2031-01-15T08:00:00Z");
    const runs = await Promise.all([maintainRequestLog(db, { retentionDays: KEEP_ALL, now }), maintainRequestLog(db, { retentionDays: KEEP_ALL, now })]);
    expect(runs.flatMap((r) => r.created).sort()).toEqual(["request_log_y2031m01", "request_log_y2031m02", "request_log_y2031m03"]);
    expect(runs.flatMap((r) => r.dropped)).toEqual([]);
    expect(await maintainRequestLog(db, { retentionDays: KEEP_ALL, now })).toEqual({ created: [], dropped: [] });
    const { months } = await listPartitions(db);
    expect(months.filter((p) => p.name.startsWith("request_log_y2031")).map((p) => p.name)).toEqual([
      "request_log_y2031m01",
      "request_log_y2031m02",
      "request_log_y2031m03",
    ]);
  });

  it("a settled request lands in its month's partition; one from a clock far off lands in DEFAULT and moves when its month comes", async () => {
    const c = await newClient(db, "land");
    await settleAll(db, [
      record(c, new Date("2031-01-31T23:59:59.999Z"), 1, { requestId: "jan" }),
      record(c, new Date("2031-02-01T00:00:00.000Z"), 1, { requestId: "feb" }),
      record(c, new Date("2099-03-05T00:00:00.000Z"), 1, { requestId: "future" }),
      record(c, new Date("1990-06-01T00:00:00.000Z"), 1, { requestId: "past" }),
    ]);
    const where = (id: string) => sql`client_id = ${c.clientId} and request_id = ${id}`;
    expect(await partitionOf(db, where("jan"))).toEqual(["request_log_y2031m01"]);
    expect(await partitionOf(db, where("feb"))).toEqual(["request_log_y2031m02"]);
    expect(await partitionOf(db, where("future"))).toEqual([DEFAULT_PARTITION]);
    expect(await partitionOf(db, where("past"))).toEqual([DEFAULT_PARTITION]);
    const counters = await countersOf(db, [c.clientId]);
    // Time reaches 2099: the month gets its partition and the stray row moves in (counters untouched).
    const result = await maintainRequestLog(db, { retentionDays: KEEP_ALL, now: new Date("2099-03-01T00:00:00Z") });
    expect(result.created).toEqual(["request_log_y2099m03", "request_log_y2099m04", "request_log_y2099m05"]);
    expect(await partitionOf(db, where("future"))).toEqual(["request_log_y2099m03"]);
    expect(await countersOf(db, [c.clientId])).toEqual(counters);
    expect(accountingMismatches(await accountingTotals(db, c.clientId))).toEqual([]);
  });

  it("a settlement retried after its commit's answer was lost writes one row and charges once", async () => {
    const c = await newClient(db, "retry");
    let lost = 0;
    // The first statement commits, then its answer is "lost" (a connection error): the queue retries.
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== "execute") return Reflect.get(target, prop, receiver);
        return async (query: unknown) => {
          const result = await (target.execute as (q: unknown) => Promise<unknown>)(query);
          if (lost++ === 0) throw Object.assign(new Error("connection lost after commit"), { code: "08006" });
          return result;
        };
      },
    });
    const queue = new SettleQueue(flaky);
    // No settlement id and no time: the queue stamps both before the first attempt.
    const { settlementId: _s, at: _a, ...unstamped } = record(c, new Date(), 5);
    await queue.settle({ kind: "unlimited" }, unstamped);
    expect(lost).toBe(2);
    const logged = await rows<{ n: number }>(db, sql`select count(*)::int as n from request_log where client_id = ${c.clientId}`);
    expect(logged[0]!.n).toBe(1);
    const totals = await accountingTotals(db, c.clientId);
    expect(totals.clients).toMatchObject({ requests: "1", inputTokens: "5", coins: "5.000001" });
    expect(accountingMismatches(totals)).toEqual([]);
  });

  it("retention drops whole old months (no DELETE) and leaves every counter, rollup and the audit equation exact", async () => {
    await maintainRequestLog(db, { retentionDays: KEEP_ALL, now: new Date("2031-04-15T00:00:00Z") }); // Apr–Jun 2031
    const a = await newClient(db, "keep");
    const b = await newClient(db, "keep2");
    const months = ["2031-01-10", "2031-02-10", "2031-03-10", "2031-04-10", "2031-05-10", "2031-06-10"];
    await settleAll(
      db,
      months.flatMap((d, i) => [
        record(a, new Date(`${d}T10:00:00Z`), i + 1),
        record(a, new Date(`${d}T11:00:00Z`), 7, { keyId: null, model: "other/model" }),
        record(b, new Date(`${d}T12:00:00Z`), 3, { status: 502, errorCode: "upstream_error" }),
      ]),
    );
    const ids = [a.clientId, b.clientId];
    const counters = await countersOf(db, ids);
    const totals = await accountingTotals(db);
    expect(accountingMismatches(totals)).toEqual([]);
    const perClient = await Promise.all(ids.map((id) => accountingTotals(db, id)));

    // 60 days before 2031-06-15 is 2031-04-16: January to March ended before it.
    const result = await maintainRequestLog(db, { retentionDays: 60, now: new Date("2031-06-15T00:00:00Z") });
    for (const gone of ["request_log_y2031m01", "request_log_y2031m02", "request_log_y2031m03"]) expect(result.dropped).toContain(gone);
    const left = (await listPartitions(db)).months.map((p) => p.name);
    expect(left).not.toContain("request_log_y2031m03");
    expect(left).toEqual(expect.arrayContaining(["request_log_y2031m04", "request_log_y2031m05", "request_log_y2031m06"]));
    const inherits = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'request_log'::regclass and c.relname in ('request_log_y2031m01', 'request_log_y2031m02', 'request_log_y2031m03')`,
    );
    expect(inherits[0]!.n).toBe(0);
    // The log itself holds only April to June now…
    const live = await rows<{ n: number }>(db, sql`select count(*)::int as n from request_log where client_id = ${a.clientId}`);
    expect(live[0]!.n).toBe(6);
    // …while every counter and daily rollup is exactly as before, and counters = log + dropped, per client too.
    expect(await countersOf(db, ids)).toEqual(counters);
    expect(await accountingTotals(db)).toEqual(totals);
    expect(await Promise.all(ids.map((id) => accountingTotals(db, id)))).toEqual(perClient);
    const dropped = await rows<{ partition: string; requests: string }>(
      db,
      sql`select partition, sum(requests)::text as requests from request_log_dropped where client_id = ${a.clientId} group by 1 order by 1`,
    );
    expect(dropped).toEqual([
      { partition: "request_log_y2031m01", requests: "2" },
      { partition: "request_log_y2031m02", requests: "2" },
      { partition: "request_log_y2031m03", requests: "2" },
    ]);
    // Run again: nothing more to drop, the record is not written twice.
    expect((await maintainRequestLog(db, { retentionDays: 60, now: new Date("2031-06-15T00:00:00Z") })).dropped).toEqual([]);
    expect(await accountingTotals(db)).toEqual(totals);
  });
});
