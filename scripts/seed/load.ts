/**
 * Loads the demo data of ./generate.ts into a Lumen database in one transaction (a failed seed leaves
 * the database as it was). The log is generated in batches (`insert … select … from generate_series`),
 * so ten million rows take a few minutes on PostgreSQL; the usage tables' foreign keys and the log's
 * secondary indexes are dropped during the load and rebuilt after it (the usual bulk-load recipe).
 */
import { sql } from "drizzle-orm";
import { rows, type Db, type Tx } from "@/lib/db/client";
import { ensureMonths } from "@/lib/db/partitions";
import {
  DEFAULT_SEED_MODELS,
  finishClients,
  logBatch,
  one,
  seedClients,
  seedKeys,
  seedManagers,
  seedModels,
  seedUsers,
  type SeedModel,
} from "./generate";

export interface SeedOptions {
  clients: number;
  /** Request-log history, in days back from now. Default 30. */
  days?: number;
  /** API keys per client. Default 2. */
  keysPerClient?: number;
  /** Request-log rows in total. Default clients × 20. */
  requests?: number;
  /** Truncate the Lumen tables first; otherwise a database that already has clients is refused. */
  reset?: boolean;
  /** Models to spread traffic over (first = most used). Default: the shipped `echo` model. */
  models?: SeedModel[];
  /** Log rows per statement. Default 1,000,000. */
  batchSize?: number;
  /** Run VACUUM ANALYZE afterwards (default true). */
  analyze?: boolean;
  adminEmail?: string;
}

export interface SeedResult {
  adminId: string;
  managers: number;
  clients: number;
  apiKeys: number;
  requests: number;
  ms: number;
}

export class SeedRefusedError extends Error {
  constructor(readonly existingClients: number) {
    super(
      `the database already has ${existingClients.toLocaleString("en-US")} client(s); ` +
        "seeding would mix demo data with real data. Use --reset to wipe the Lumen tables first.",
    );
    this.name = "SeedRefusedError";
  }
}

/** Tables holding users, clients and usage. `models`/`endpoints` mirror config.yaml and are left alone. */
export const LUMEN_DATA_TABLES = [
  "request_log",
  "request_log_dropped",
  "client_daily_usage",
  "client_model_usage",
  "consents",
  "coin_reservations",
  "coin_leases",
  "coin_pools",
  "api_keys",
  "client_managers",
  "clients",
  "users",
] as const;

/** Tables the seed writes (their foreign keys are checked once, at the end). */
const SEEDED_TABLES = ["users", "clients", "api_keys", "client_managers", "client_model_usage", "client_daily_usage", "request_log"];

const fmt = (n: number) => n.toLocaleString("en-US");
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Fills the database with demo data. See the module comment; `log` receives progress lines. */
export async function seedDatabase(db: Db, opts: SeedOptions, log: (line: string) => void = () => {}): Promise<SeedResult> {
  const n = opts.clients;
  const days = opts.days ?? 30;
  const keys = opts.keysPerClient ?? 2;
  const total = opts.requests ?? n * 20;
  const batch = opts.batchSize ?? 1_000_000;
  const models = opts.models?.length ? opts.models : DEFAULT_SEED_MODELS;
  const managerUsers = Math.max(1, Math.round(n / 20));
  if (!Number.isInteger(n) || n < 1) throw new RangeError("clients must be a whole number ≥ 1");
  if (!Number.isInteger(days) || days < 1) throw new RangeError("days must be a whole number ≥ 1");
  if (!Number.isInteger(keys) || keys < 0 || keys > 1000) throw new RangeError("keysPerClient must be 0…1000");
  if (!Number.isInteger(total) || total < 0) throw new RangeError("requests must be a whole number ≥ 0");
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError("batchSize must be a whole number ≥ 1");

  const started = performance.now();
  const result = await db.transaction(async (tx) => {
    await tx.execute(sql`set local work_mem = '64MB'`);
    await tx.execute(sql`set local synchronous_commit = off`);
    await tx.execute(sql`set local jit = off`);

    const existing = await one<{ n: number }>(tx, sql`select count(*)::int as n from clients`);
    if (Number(existing.n) > 0) {
      if (!opts.reset) throw new SeedRefusedError(Number(existing.n));
      log(`Resetting: truncating ${LUMEN_DATA_TABLES.join(", ")}`);
    }
    if (opts.reset) await tx.execute(sql.raw(`truncate table ${LUMEN_DATA_TABLES.join(", ")} restart identity cascade`));

    let t0 = performance.now();
    const step = (what: string) => {
      log(`${what} · ${secs(performance.now() - t0)}`);
      t0 = performance.now();
    };
    let apiKeys = 0;
    let adminId = "";
    await withoutConstraints(tx, log, async () => {
      adminId = await seedUsers(tx, opts.adminEmail ?? "admin@example.com", managerUsers);
      await seedModels(tx, models);
      step(`users: an admin and ${fmt(managerUsers)} managers`);
      await seedClients(tx, { n, days, total, adminId });
      step(`clients: ${fmt(n)}`);
      apiKeys = await seedKeys(tx, keys, adminId);
      step(`API keys: ${fmt(apiKeys)}`);
      await seedManagers(tx, managerUsers, adminId);
      step("client managers");

      // The log reaches `days` back: its monthly partitions must exist first, or the rows land in DEFAULT.
      const months = await ensureMonths(tx, new Date(Date.now() - (days + 1) * 86_400_000), new Date());
      step(`request_log partitions: ${months.length} created`);

      // A fresh, seq-ordered copy: its sequential scan feeds the log client by client (see the module comment).
      await tx.execute(sql`
        create temp table _seed_plan on commit drop as
        select seq, id, window_start, fav, n, start, key_ids from _seed_clients where n > 0 order by seq`);
      const t1 = performance.now();
      for (let from = 0; from < total; from += batch) {
        const to = Math.min(total, from + batch);
        await tx.execute(logBatch(from, to));
        const ms = performance.now() - t1;
        log(
          `request_log ${fmt(to)} / ${fmt(total)} (${Math.round((to / total) * 100)}%) · ${secs(ms)} · ` +
            `${fmt(Math.round(to / (ms / 1000)))} rows/s`,
        );
      }
      await finishClients(tx, adminId);
    });
    return { adminId, managers: managerUsers, clients: n, apiKeys, requests: total };
  });

  if (opts.analyze ?? true) {
    const t2 = performance.now();
    // The seed updated every counter row a few times: rewrite the small tables compactly (VACUUM FULL)
    // so pages are not measured on seed-made bloat. The log only needs statistics.
    for (const table of LUMEN_DATA_TABLES) {
      const how = table === "request_log" ? "analyze" : table === "client_daily_usage" ? "vacuum analyze" : "vacuum (full, analyze)";
      await db.execute(sql.raw(`${how} ${table}`));
    }
    log(`vacuum analyze · ${secs(performance.now() - t2)}`);
  }
  return { ...result, ms: performance.now() - started };
}

/**
 * Runs `load` with the seeded tables' foreign keys and the log's secondary indexes dropped, then puts
 * them back exactly as they were (definitions read from the catalog). Checking a foreign key per row and
 * growing two indexes row by row costs several times the insert itself; re-creating them afterwards is
 * one sort per index and one join per key. Inside the seed's transaction, so a failure restores all.
 */
async function withoutConstraints(tx: Tx, log: (line: string) => void, load: () => Promise<void>): Promise<void> {
  const fks = await rows<{ tbl: string; name: string; def: string }>(
    tx,
    sql`select conrelid::regclass::text as tbl, quote_ident(conname) as name, pg_get_constraintdef(oid) as def
        from pg_constraint
        where contype = 'f' and conrelid::regclass::text = any(string_to_array(${SEEDED_TABLES.join(",")}::text, ','))
        order by conname`,
  );
  const indexes = await rows<{ name: string; def: string }>(
    tx,
    sql`select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
        from pg_index i
        where i.indrelid = 'request_log'::regclass and not i.indisprimary and not i.indisunique
        order by 1`,
  );
  for (const fk of fks) await tx.execute(sql.raw(`alter table ${fk.tbl} drop constraint ${fk.name}`));
  for (const ix of indexes) await tx.execute(sql.raw(`drop index ${ix.name}`));
  await load();
  const t0 = performance.now();
  await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
  // The log is partitioned: its index definitions read "ON ONLY request_log" (the parent alone); created
  // without ONLY they are built on every partition again.
  for (const ix of indexes) await tx.execute(sql.raw(ix.def.replace(/ ON ONLY /, " ON ")));
  log(`request_log indexes rebuilt · ${secs(performance.now() - t0)}`);
  const t1 = performance.now();
  for (const fk of fks) await tx.execute(sql.raw(`alter table ${fk.tbl} add constraint ${fk.name} ${fk.def}`));
  log(`foreign keys checked · ${secs(performance.now() - t1)}`);
}
