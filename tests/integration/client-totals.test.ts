/**
 * The maintained totals behind the administrator's summary cards (client_totals, kept by statement-level
 * triggers on clients): after concurrent settlements, creates, deletes, imports and a truncate they equal
 * the aggregate over clients exactly, and the migration seeds them from the clients an install already has.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inArray, sql } from "drizzle-orm";
import { migrationsFolder, rows, type Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { settleMany, type SettleItem } from "@/lib/coins/settle";
import { accountingMismatches, accountingTotals } from "@/lib/coins/audit";
import { clientSummary } from "@/lib/clients/queries";
import type { Viewer } from "@/lib/auth/permissions";
import { createServerDatabase } from "../helpers/db";
import { backends, useBackend } from "../helpers/backend";
import { insertClient, viewerFor } from "../helpers/fixtures";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "integration-test-secret-0123456789-abcdef";

interface Sums {
  clients: string;
  requests: string;
  input: string;
  output: string;
  coins: string;
  audio: string;
}

const aggregate = (db: Db) =>
  rows<Sums>(
    db,
    sql`select count(*)::text as clients, coalesce(sum(requests), 0)::text as requests, coalesce(sum(input_tokens), 0)::text as input,
          coalesce(sum(output_tokens), 0)::text as output, coalesce(sum(coins_spent), 0)::numeric(30, 6)::text as coins,
          coalesce(sum(audio_seconds), 0)::numeric(30, 3)::text as audio
        from clients`,
  ).then((r) => r[0]!);

const maintained = (db: Db) =>
  rows<Sums>(
    db,
    sql`select sum(clients)::text as clients, sum(requests)::text as requests, sum(input_tokens)::text as input,
          sum(output_tokens)::text as output, sum(coins_spent)::numeric(30, 6)::text as coins,
          sum(audio_seconds)::numeric(30, 3)::text as audio
        from client_totals`,
  ).then((r) => r[0]!);

let seq = 0;
const record = (clientId: string, keyId: string, i: number): SettleItem => ({
  admission: { kind: "unlimited" },
  record: {
    clientId,
    clientName: "totals",
    keyId,
    model: "acme/chat",
    endpoint: "builtin:echo",
    status: 200,
    inputTokens: 10 + (i % 7),
    outputTokens: 3 * (i % 5),
    coins: `0.${String(100_003 + i * 37).padStart(6, "0")}`,
    audioSeconds: i % 3 === 0 ? 1.25 : 0,
    durationMs: 5,
    ttftMs: null,
    streamed: false,
    usageEstimated: false,
    errorCode: null,
  },
});

describe.each(backends())("client_totals ($name)", (backend) => {
  let db: Db;
  let admin: Viewer;
  useBackend(backend, (h) => (db = h.db));
  beforeAll(async () => {
    admin = await viewerFor(db, "totals-admin@example.com", true);
  });

  it("equals the aggregate after concurrent settlements, creates and deletes (and the audit agrees)", async () => {
    const busy = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const c = await insertClient(db, `totals-busy-${++seq}-${i}`);
        return { id: c.id, key: (await insertKey(db, c.id, "main")).row.id };
      }),
    );
    // Clients with a settled history that are deleted while others settle (their log goes with them).
    const doomed = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const c = await insertClient(db, `totals-doomed-${++seq}-${i}`);
        const key = (await insertKey(db, c.id, "main")).row.id;
        await settleMany(db, [record(c.id, key, i), record(c.id, key, i + 1)]);
        return c.id;
      }),
    );

    const work: Promise<unknown>[] = [];
    for (let round = 0; round < 40; round++) {
      // A batch over several clients in one statement, as the settle queue writes them.
      work.push(settleMany(db, busy.map((b, i) => record(b.id, b.key, round * 10 + i))));
      work.push(settleMany(db, [record(busy[round % busy.length]!.id, busy[round % busy.length]!.key, round)]));
      if (round % 8 === 0) work.push(insertClient(db, `totals-new-${++seq}`));
      if (round % 10 === 5) work.push(db.delete(clients).where(inArray(clients.id, doomed.splice(0, 1))));
    }
    await Promise.all(work);

    const agg = await aggregate(db);
    expect(agg.requests).toBe("280");
    expect(await maintained(db)).toEqual(agg);
    expect(accountingMismatches(await accountingTotals(db))).toEqual([]);
    expect(await clientSummary(db, admin)).toEqual({
      totalClients: Number(agg.clients),
      totalRequests: agg.requests,
      totalTokens: String(BigInt(agg.input) + BigInt(agg.output)),
      coinsSpent: agg.coins,
    });
  });

  it("follows imports with counters, updates that move no counter, deletes and a truncate", async () => {
    await db.execute(sql`
      insert into clients (name, requests, input_tokens, output_tokens, coins_spent, audio_seconds)
      select 'totals-import-' || g, g, 2 * g, 3 * g, g * 0.000001, g * 0.001 from generate_series(1, 500) g`);
    await db.execute(sql`update clients set active = false, refusals = refusals + 1 where name like 'totals-import-%'`);
    await db.execute(sql`update clients set coins_spent = coins_spent + 0.5, requests = requests + 1 where name like 'totals-import-1%'`);
    await db.execute(sql`delete from clients where name like 'totals-import-2%'`);
    expect(await maintained(db)).toEqual(await aggregate(db));
    // Updates that change no counter write no shard.
    const before = await rows<{ x: string }>(db, sql`select xmin::text as x from client_totals order by shard`);
    await db.execute(sql`update clients set manager_count = manager_count where name like 'totals-import-%'`);
    expect(await rows<{ x: string }>(db, sql`select xmin::text as x from client_totals order by shard`)).toEqual(before);

    await db.execute(sql`truncate clients cascade`);
    expect(await maintained(db)).toEqual({ clients: "0", requests: "0", input: "0", output: "0", coins: "0.000000", audio: "0.000" });
    expect((await clientSummary(db, admin)).totalClients).toBe(0);
  });
});

/** The migrations up to (not including) `tag`, in a folder of their own. */
function migrationsBefore(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-migrations-"));
  const src = migrationsFolder();
  fs.cpSync(src, dir, { recursive: true });
  const journalFile = path.join(dir, "meta", "_journal.json");
  const journal = JSON.parse(fs.readFileSync(journalFile, "utf8")) as { entries: { idx: number; tag: string }[] };
  const at = journal.entries.findIndex((e) => e.tag === tag);
  if (at < 0) throw new Error(`no migration ${tag}`);
  journal.entries = journal.entries.slice(0, at);
  fs.writeFileSync(journalFile, JSON.stringify(journal));
  return dir;
}

describe("client_totals migration", () => {
  const older = migrationsBefore("0009_client_totals_triggers");
  afterAll(() => fs.rmSync(older, { recursive: true, force: true }));

  const existingInstall = async (db: Db) => {
    await db.execute(sql`
      insert into clients (name, requests, input_tokens, output_tokens, coins_spent, audio_seconds)
      select 'old-' || g, g, g + 1, g + 2, g * 0.25, g * 0.5 from generate_series(1, 300) g`);
  };

  it("seeds the totals from an existing install's clients (PGlite)", async () => {
    const { PGlite } = await import("@electric-sql/pglite");
    const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const client = new PGlite({ extensions: { pg_trgm } });
    try {
      const db = drizzle(client) as unknown as Db;
      await migrate(db as never, { migrationsFolder: older });
      await existingInstall(db);
      await migrate(db as never, { migrationsFolder: migrationsFolder() });
      expect(await maintained(db)).toEqual(await aggregate(db));
      expect((await maintained(db)).clients).toBe("300");
    } finally {
      await client.close();
    }
  });

  const url = process.env.TEST_DATABASE_URL?.trim();
  it.skipIf(!url)("seeds the totals from an existing install's clients (PostgreSQL)", async () => {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    const created = await createServerDatabase(url!);
    const client = postgres(created.url, { max: 1, onnotice: () => {} });
    try {
      const db = drizzle(client) as unknown as Db;
      await migrate(db as never, { migrationsFolder: older });
      await existingInstall(db);
      await migrate(db as never, { migrationsFolder: migrationsFolder() });
      expect(await maintained(db)).toEqual(await aggregate(db));
      expect((await maintained(db)).clients).toBe("300");
    } finally {
      await client.end();
      await created.drop();
    }
  });
});
