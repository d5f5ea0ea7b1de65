/**
 * The Clients page's name search reads client_name_search (migration 0013), kept by triggers on `clients`:
 * it must hold exactly every client's lower-cased name through every way a client is written — one insert,
 * a bulk insert, a rename, a delete, a settlement's counter update — and `clients` itself must carry no
 * trigram index (a settlement's non-HOT update would write one GIN entry per trigram of the name).
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { migrationsFolder, rows, type Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { listClients } from "@/lib/clients/queries";
import { parseClientListParams } from "@/lib/clients/list-params";
import { settle } from "@/lib/coins/settle";
import { backends, useBackend } from "../helpers/backend";
import { migrationsBefore, openBare } from "../helpers/db";
import { insertClient, viewerFor } from "../helpers/fixtures";

describe.each(backends())("client name search on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));

  /** client_name_search against clients: [missing or wrong, extra] — both empty when in step. */
  const drift = async () => {
    const [r] = await rows<{ missing: number; extra: number }>(
      db,
      sql`select
            (select count(*)::int from clients c where not exists
               (select 1 from client_name_search s where s.client_id = c.id and s.name_lower = c.name_lower)) as missing,
            (select count(*)::int from client_name_search s where not exists
               (select 1 from clients c where c.id = s.client_id)) as extra`,
    );
    return [r!.missing, r!.extra];
  };
  const search = async (q: string) => {
    const admin = await viewerFor(db, "admin@example.com", true);
    return (await listClients(db, admin, parseClientListParams({ q }))).rows.map((r) => r.name).sort();
  };

  it("follows one insert, a bulk insert, a rename and a delete", async () => {
    const one = await insertClient(db, "Search-Alpha");
    expect(await drift()).toEqual([0, 0]);
    expect(await search("ALPHA")).toEqual(["Search-Alpha"]);

    // One statement for many rows (as an import or the seed writes them): the statement trigger covers all.
    await db.insert(clients).values(Array.from({ length: 50 }, (_, i) => ({ name: `Bulk-${String(i).padStart(2, "0")}-Robot` })));
    expect(await drift()).toEqual([0, 0]);
    expect(await search("-robot")).toHaveLength(50);
    expect(await search("bulk-07")).toEqual(["Bulk-07-Robot"]);

    await db.update(clients).set({ name: "Renamed-Omega" }).where(eq(clients.id, one.id));
    expect(await drift()).toEqual([0, 0]);
    expect(await search("omega")).toEqual(["Renamed-Omega"]);
    expect(await search("alpha")).toEqual([]);

    await db.delete(clients).where(sql`${clients.name} like 'Bulk-0%'`);
    expect(await drift()).toEqual([0, 0]);
    expect(await search("-robot")).toHaveLength(40);
  });

  it("a settlement leaves the search table alone, and clients has no trigram index", async () => {
    const c = await insertClient(db, "Settled-Search");
    const before = await rows<{ n: string }>(db, sql`select xmin::text as n from client_name_search where client_id = ${c.id}`);
    await settle(db, { kind: "unlimited" }, {
      clientId: c.id, clientName: c.name, keyId: null, model: "m", endpoint: "e", status: 200, inputTokens: 3, outputTokens: 4,
      coins: "0.000010", durationMs: 5, ttftMs: null, streamed: false, usageEstimated: false, errorCode: null,
    });
    const [after] = await rows<{ requests: number }>(db, sql`select requests::int as requests from clients where id = ${c.id}`);
    expect(after!.requests).toBe(1);
    // Same row version: the settlement's update of clients did not touch it.
    expect(await rows<{ n: string }>(db, sql`select xmin::text as n from client_name_search where client_id = ${c.id}`)).toEqual(before);
    expect(await drift()).toEqual([0, 0]);
    const trigram = await rows<{ indexname: string }>(
      db,
      sql`select indexname from pg_indexes where tablename = 'clients' and indexdef ilike '%trgm%'`,
    );
    expect(trigram).toEqual([]);
    const [own] = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from pg_indexes where tablename = 'client_name_search' and indexdef ilike '%gin%gin_trgm_ops%'`,
    );
    expect(own!.n).toBe(1);
  });
});

describe("client_name_search migration", () => {
  for (const kind of backends().map((b) => b.name)) {
    it(`[${kind}] fills the search table from an existing install's clients`, async () => {
      const older = migrationsBefore("0013_client_name_search");
      const bare = await openBare(kind);
      try {
        await bare.migrate(older);
        await bare.db.execute(sql`insert into clients (name) select 'Old-Client-' || g from generate_series(1, 300) g`);
        await bare.migrate(migrationsFolder());
        const [r] = await rows<{ n: number; wrong: number }>(
          bare.db,
          sql`select count(*)::int as n, count(*) filter (where s.name_lower is distinct from c.name_lower)::int as wrong
              from clients c left join client_name_search s on s.client_id = c.id`,
        );
        expect(r).toEqual({ n: 300, wrong: 0 });
        const [hit] = await rows<{ name: string }>(
          bare.db,
          sql`select c.name from clients c join client_name_search s on s.client_id = c.id where s.name_lower like '%client-137'`,
        );
        expect(hit?.name).toBe("Old-Client-137");
      } finally {
        await bare.close();
        fs.rmSync(older, { recursive: true, force: true });
      }
    });
  }
});
