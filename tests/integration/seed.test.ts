import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rows, type Db } from "@/lib/db/client";
import { parseConfigText } from "@/lib/config";
import { DEFAULT_SEED_MODELS, seedModelsFromConfig, type SeedModel } from "../../scripts/seed/generate";
import { seedDatabase, SeedRefusedError } from "../../scripts/seed/load";
import { verifySeed } from "../../scripts/seed/verify";
import { backends, useBackend } from "../helpers/backend";

const MODELS: SeedModel[] = [
  { name: "echo", inputCostPerMillion: 0.5, outputCostPerMillion: 1, maxOutputTokens: 4096, endpoints: ["builtin:echo"] },
  { name: "llama3", inputCostPerMillion: "0.2", outputCostPerMillion: "0.2", endpoints: ["http://gpu-1:8000/v1", "http://gpu-2:8000/v1"] },
  { name: "vendor/big-model", inputCostPerMillion: 2.5, outputCostPerMillion: 10, maxOutputTokens: 1024 },
];
const CLIENTS = 200;
const REQUESTS = 4321;

/** Number of rows of a query that lists disagreements (0 when everything agrees). */
async function count(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await rows<{ n: number }>(db, sql`select count(*)::int as n from (${query}) x`);
  return Number(row?.n ?? -1);
}

/** Every constraint and index definition of the public schema, sorted (to compare before and after). */
async function constraintsAndIndexes(db: Db): Promise<string[]> {
  const defs = await rows<{ def: string }>(
    db,
    // The request log's monthly partitions (the seed makes those its history reaches) are compared apart.
    sql`select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(p.oid) as def
          from pg_constraint p join pg_class t on t.oid = p.conrelid
          where connamespace = 'public'::regnamespace and not t.relispartition
        union all
        select indexdef from pg_indexes x join pg_class t on t.relname = x.tablename and t.relnamespace = 'public'::regnamespace
          where schemaname = 'public' and not t.relispartition`,
  );
  return defs.map((d) => d.def).sort();
}

/** For each partition of request_log: its indexes, by the parent index they belong to. */
async function partitionIndexes(db: Db): Promise<Record<string, string[]>> {
  const found = await rows<{ part: string; parents: string[] }>(
    db,
    sql`select c.relname as part, array_agg(pi.inhparent::regclass::text order by pi.inhparent::regclass::text) as parents
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
        join pg_index x on x.indrelid = c.oid join pg_inherits pi on pi.inhrelid = x.indexrelid
        where i.inhparent = 'request_log'::regclass group by 1`,
  );
  return Object.fromEntries(found.map((r) => [r.part, r.parents]));
}

describe.each(backends())("db seed on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));

  let schemaBefore: string[];

  beforeAll(async () => {
    schemaBefore = await constraintsAndIndexes(db);
    await seedDatabase(db, { clients: CLIENTS, days: 30, keysPerClient: 3, requests: REQUESTS, models: MODELS, batchSize: 1000 });
  });


  it("creates the requested numbers of clients, keys, managers and log rows", async () => {
    const [r] = await rows<{ clients: number; keys: number; log: number; admins: number; managers: number; inactive: number }>(
      db,
      sql`select (select count(*)::int from clients) as clients, (select count(*)::int from api_keys) as keys,
                 (select count(*)::int from request_log) as log,
                 (select count(*)::int from users where email = 'admin@example.com') as admins,
                 (select count(*)::int from users where email <> 'admin@example.com') as managers,
                 (select count(*)::int from clients where not active) as inactive`,
    );
    expect(r).toMatchObject({ clients: CLIENTS, keys: CLIENTS * 3, log: REQUESTS, admins: 1, managers: CLIENTS / 20 });
    expect(r?.inactive).toBeLessThan(CLIENTS / 5);
  });

  it("makes every counter total equal the request log", async () => {
    const { totals, mismatches } = await verifySeed(db);
    expect(mismatches).toEqual([]);
    expect(totals.requestLog.requests).toBe(String(REQUESTS));
    expect(totals.clients).toEqual(totals.requestLog);
    expect(totals.apiKeys).toEqual(totals.requestLog); // every seeded request carries a key
    expect(totals.clientModelUsage).toEqual(totals.requestLog);
    expect(totals.clientDailyUsage).toEqual(totals.requestLog);
    expect(Number(totals.requestLog.coins)).toBeGreaterThan(0);
  });

  it("agrees row by row, not only in total", async () => {
    const perClient = sql`
      select c.id from clients c
      left join (select client_id, count(*) n, sum(input_tokens) i, sum(output_tokens) o, sum(coins) coins, max(created_at) last
                 from request_log group by client_id) l on l.client_id = c.id
      where c.requests <> coalesce(l.n, 0) or c.input_tokens <> coalesce(l.i, 0) or c.output_tokens <> coalesce(l.o, 0)
         or c.coins_spent <> coalesce(l.coins, 0) or c.last_used_at is distinct from l.last`;
    const perKey = sql`
      select k.id from api_keys k
      left join (select key_id, count(*) n, sum(input_tokens) i, sum(output_tokens) o, sum(coins) coins, max(created_at) last
                 from request_log group by key_id) l on l.key_id = k.id
      where k.requests <> coalesce(l.n, 0) or k.input_tokens <> coalesce(l.i, 0) or k.output_tokens <> coalesce(l.o, 0)
         or k.coins_spent <> coalesce(l.coins, 0) or k.last_used_at is distinct from l.last`;
    const perModel = sql`
      select 1 from client_model_usage u
      full join (select client_id, model, count(*) n, sum(input_tokens) i, sum(output_tokens) o, sum(coins) coins, max(created_at) last
                 from request_log group by 1, 2) l on l.client_id = u.client_id and l.model = u.model
      where u.requests is distinct from l.n or u.input_tokens is distinct from l.i or u.output_tokens is distinct from l.o
         or u.coins_spent is distinct from l.coins or u.last_used_at is distinct from l.last`;
    const perDay = sql`
      select 1 from client_daily_usage u
      full join (select client_id, (created_at at time zone 'UTC')::date as day, model, count(*) n, sum(input_tokens) i,
                        sum(output_tokens) o, sum(coins) coins
                 from request_log group by 1, 2, 3) l on l.client_id = u.client_id and l.day = u.day and l.model = u.model
      where u.requests is distinct from l.n or u.input_tokens is distinct from l.i or u.output_tokens is distinct from l.o
         or u.coins_spent is distinct from l.coins`;
    expect(await count(db, perClient)).toBe(0);
    expect(await count(db, perKey)).toBe(0);
    expect(await count(db, perModel)).toBe(0);
    expect(await count(db, perDay)).toBe(0);
  });

  it("keeps manager_count equal to the client's managers", async () => {
    const wrong = sql`
      select c.id from clients c
      left join (select client_id, count(*)::int n from client_managers group by client_id) m on m.client_id = c.id
      where c.manager_count <> coalesce(m.n, 0)`;
    expect(await count(db, wrong)).toBe(0);
    const [r] = await rows<{ max: number; total: number }>(
      db,
      sql`select max(manager_count)::int as max, sum(manager_count)::int as total from clients`,
    );
    expect(r?.max).toBeLessThanOrEqual(3);
    expect(r?.total).toBeGreaterThan(0);
  });

  it("prices every request exactly from its model", async () => {
    const wrong = sql`
      select 1 from request_log l
      join (values ('echo', 0.5, 1.0), ('llama3', 0.2, 0.2), ('vendor/big-model', 2.5, 10.0)) p(model, i, o) on p.model = l.model
      where l.coins <> round((l.input_tokens * p.i + l.output_tokens * p.o) / 1000000, 6)`;
    expect(await count(db, wrong)).toBe(0);
    expect(await count(db, sql`select distinct model from request_log`)).toBe(3);
  });

  it("writes well-formed names, hints, hashes and times", async () => {
    expect(await count(db, sql`select 1 from clients where name !~ '^[a-z0-9][a-z0-9._-]{0,63}$'`)).toBe(0);
    expect(await count(db, sql`select lower(name) from clients group by 1 having count(*) > 1`)).toBe(0);
    expect(await count(db, sql`select 1 from api_keys where hint !~ '^sk_[A-Za-z0-9]{4}…[A-Za-z0-9]{4}$'`)).toBe(0);
    expect(await count(db, sql`select 1 from api_keys where key_hash !~ '^[0-9a-f]{64}$'`)).toBe(0);
    expect(await count(db, sql`select 1 from users where email !~ '^[a-z0-9.]+@example\\.com$'`)).toBe(0);
    expect(
      await count(
        db,
        sql`select 1 from request_log l join clients c on c.id = l.client_id
            where l.created_at < c.created_at or l.created_at > now() or l.created_at < now() - interval '31 days'`,
      ),
    ).toBe(0);
    expect(await count(db, sql`select 1 from clients where not active and deactivated_at < last_used_at`)).toBe(0);
    expect(await count(db, sql`select 1 from api_keys where revoked_at < last_used_at`)).toBe(0);
  });

  it("leaves every foreign key and index as the migrations made them", async () => {
    const after = await constraintsAndIndexes(db);
    expect(after).toEqual(schemaBefore);
    expect(after.filter((d) => d.includes("FOREIGN KEY")).length).toBeGreaterThanOrEqual(10);
    // Every partition of the log, those the seed made included, carries every index of the log.
    const parents = (await rows<{ name: string }>(db, sql`select indexrelid::regclass::text as name from pg_index where indrelid = 'request_log'::regclass order by 1`)).map((r) => r.name);
    expect(parents).toHaveLength(6);
    const parts = await partitionIndexes(db);
    expect(Object.keys(parts).length).toBeGreaterThanOrEqual(4);
    for (const [part, indexes] of Object.entries(parts)) expect({ part, indexes }).toEqual({ part, indexes: parents });
  });

  it("refuses a database that has clients unless reset, and reset starts over", async () => {
    await expect(seedDatabase(db, { clients: 5, models: MODELS, analyze: false })).rejects.toBeInstanceOf(SeedRefusedError);
    expect(await count(db, sql`select 1 from clients`)).toBe(CLIENTS);

    const result = await seedDatabase(db, { clients: 20, requests: 150, keysPerClient: 1, reset: true, analyze: false });
    expect(result).toMatchObject({ clients: 20, requests: 150, apiKeys: 20, managers: 1 });
    expect(await count(db, sql`select 1 from clients`)).toBe(20);
    expect(await count(db, sql`select 1 from users`)).toBe(2);
    expect((await verifySeed(db)).mismatches).toEqual([]);
    expect(await count(db, sql`select distinct model from request_log`)).toBe(1);
  });
});

describe("seedModelsFromConfig", () => {
  const models = (yaml: string) => parseConfigText(yaml, "config.yaml").config.models;

  it("takes the enabled models with their prices, endpoints without credentials", () => {
    const config = models(`
models:
  - {name: echo, input_cost_per_million: 0.5, output_cost_per_million: 1, endpoints: [{url: "builtin:echo"}]}
  - {name: old, disabled: true, input_cost_per_million: 9, endpoints: [{url: "http://x:1/v1"}]}
  - {name: gpt, input_cost_per_million: 2.5, output_cost_per_million: 10, max_output_tokens: 512,
     endpoints: [{url: "https://user:secret@api.example.com/v1"}]}
`);
    expect(seedModelsFromConfig(config)).toEqual([
      { name: "echo", inputCostPerMillion: 0.5, outputCostPerMillion: 1, maxOutputTokens: undefined, endpoints: ["builtin:echo"] },
      { name: "gpt", inputCostPerMillion: 2.5, outputCostPerMillion: 10, maxOutputTokens: 512, endpoints: ["https://api.example.com/v1"] },
    ]);
  });

  it("falls back to the built-in echo model when the config lists none", () => {
    expect(seedModelsFromConfig(models("models: []\n"))).toEqual(DEFAULT_SEED_MODELS);
  });
});
