import path from "node:path";
import fs from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { SQL } from "drizzle-orm";
import { markStartup, processState } from "@/lib/process-state";
import * as schema from "./schema";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Anything queries can run on: the database or an open transaction. */
export type Executor = Db | Tx;

export interface DbHandle {
  db: Db;
  kind: "pglite" | "postgres";
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL; when absent an embedded PGlite database is used. */
  url?: string;
  /** PGlite data folder; absent means in memory (tests). */
  pgliteDir?: string;
  /** postgres.js pool size. */
  max?: number;
}

const MIGRATION_LOCK_ID = 727_274_001;
export const migrationsFolder = () => path.join(process.cwd(), "drizzle");

type Sql = import("postgres").Sql;

/**
 * The postgres.js client with every parameterised query sent as a named prepared statement, cached
 * per connection by its text. Drizzle sends its queries as unnamed statements, which PostgreSQL parses
 * and plans again on every call: for the settlement statement (eight sub-statements) planning cost
 * more than executing (bench/gateway). The set of query texts is fixed by the code, so the cache is
 * bounded. Queries without parameters (migrations, DDL) keep the simple protocol. Transactions
 * (`begin`) get the same treatment.
 */
function preparing(client: Sql): Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "unsafe") {
        return (query: string, args?: unknown[], options?: Record<string, unknown>) =>
          Array.isArray(args) && args.length > 0
            ? target.unsafe(query, args as never[], { ...options, prepare: true })
            : target.unsafe(query, args as never[], options);
      }
      if (prop === "begin") {
        return (...args: unknown[]) => {
          const fn = args[args.length - 1] as (tx: Sql) => unknown;
          const rest = args.slice(0, -1) as [string?];
          return (target.begin as (...a: unknown[]) => unknown)(...rest, (tx: Sql) => fn(preparing(tx)));
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** The smallest PostgreSQL pool: a smaller `max` (DATABASE_POOL_SIZE) is raised to it. */
export const MIN_POOL = 2;

/** Opens a database and applies pending migrations (under an advisory lock on PostgreSQL). */
export async function openDatabase(opts: OpenOptions): Promise<DbHandle> {
  if (opts.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    const client = postgres(opts.url, {
      // At least 2: the migration below holds one connection for its advisory lock while the migrator runs
      // on another (a pool of 1 waited for itself, and the server hung at start with DATABASE_POOL_SIZE=1).
      max: Math.max(MIN_POOL, opts.max ?? 10),
      onnotice: () => {},
      connection: { application_name: "lumen" },
      // Recovery from an outage within a second: postgres.js's default backoff grows with every failed
      // connection attempt in the pool (3^n / 100 s, up to 20 s), so a few seconds of outage kept Lumen
      // away from a database that was back. At most 0.5 s between attempts here, and a connection
      // attempt that hangs gives its slot back after 5 s instead of 30.
      backoff: (retries: number) => Math.min(0.05 * retries, 0.5),
      connect_timeout: 5,
    });
    const db = drizzle(preparing(client), { schema }) as unknown as Db;
    const lock = await client.reserve();
    markStartup("db_connected");
    try {
      await lock`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migrate(drizzle(client, { schema }), { migrationsFolder: migrationsFolder() });
    } finally {
      await lock`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
      lock.release();
    }
    return { db, kind: "postgres", close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
  const { drizzle } = await import("drizzle-orm/pglite");
  const release = opts.pgliteDir ? lockPgliteDir(opts.pgliteDir) : () => {};
  // Options-object form: `new PGlite(undefined, opts)` silently drops the extensions.
  try {
    // The production server compiled the WebAssembly ahead (lib/db/pglite-warm.ts); else PGlite does.
    const pgliteWasmModule = (await processState().pgliteWasm) ?? undefined;
    const client = new PGlite({
      dataDir: opts.pgliteDir,
      extensions: { pg_trgm },
      pgliteWasmModule,
      startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
    });
    await client.waitReady;
    markStartup("db_connected");
    const pg = drizzle(client, { schema });
    // The common case, a folder already at the newest migration: one query instead of the migrator's
    // reading and hashing of every file and its three statements (each a sync of the folder on PGlite).
    if (!(await pgliteAtHead(client))) {
      const { migrate } = await import("drizzle-orm/pglite/migrator");
      await migrate(pg, { migrationsFolder: migrationsFolder() });
    }
    return {
      db: pg as unknown as Db,
      kind: "pglite",
      close: async () => {
        try {
          await client.close();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * PGlite's buffer cache. PostgreSQL's default, 128MB, is set up (zeroed) inside the WebAssembly memory
 * on every open: ~0.35 s of start-up more than 32MB (measured: opening a small data folder, six runs
 * each, 1.08–1.36 s at 128MB, 0.73–0.90 s at 32MB), and resident memory for good. The embedded
 * database is a single process reading its files through the operating system's cache, which keeps
 * them anyway; a large installation runs on PostgreSQL (DATABASE_URL), where this does not apply.
 */
export const PGLITE_SHARED_BUFFERS = "32MB";

/**
 * Whether the database already has every migration of drizzle/meta/_journal.json, decided exactly as
 * drizzle's migrator decides what to apply (pg-core dialect `migrate`: a migration runs when its
 * journal `when` is later than the newest `created_at` in drizzle.__drizzle_migrations). False when
 * the table does not exist yet or anything is in doubt: the migrator then runs and decides itself.
 * PGlite only: there the folder lock makes this process the only one migrating. PostgreSQL keeps
 * taking its advisory lock first, so a start waits for another instance's migrations to finish.
 */
async function pgliteAtHead(client: import("@electric-sql/pglite").PGlite): Promise<boolean> {
  try {
    const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as {
      entries?: { when?: unknown }[];
    };
    const newest = Math.max(...(journal.entries ?? []).map((e) => Number(e.when)));
    if (!Number.isFinite(newest)) return false;
    const present = await client.query<{ t: string | null }>("select to_regclass('drizzle.__drizzle_migrations')::text as t");
    if (!present.rows[0]?.t) return false;
    const last = await client.query<{ created_at: unknown }>(
      "select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1",
    );
    const at = last.rows[0]?.created_at;
    return (typeof at === "string" || typeof at === "number" || typeof at === "bigint") && Number(at) >= newest;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite does not stop two processes from opening one folder (which corrupts it), so Lumen keeps a
 * lock file holding the owner's pid. A lock left by a process that no longer runs is taken over.
 */
export function lockPgliteDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(path.dirname(path.resolve(dir)), `${path.basename(dir)}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(file, "utf8").trim());
      if (owner && owner !== process.pid && processAlive(owner)) {
        throw new Error(
          `The embedded database in ${dir} is in use by another process (pid ${owner}). ` +
            "Stop it first, or set DATABASE_URL to use a PostgreSQL server.",
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`Could not lock the embedded database in ${dir}`);
}

/**
 * The process-wide database, opened on first use (never at import or during `next build`).
 * DATABASE_URL selects PostgreSQL; otherwise PGlite in `<data_dir>/pgdata`. Closed by the runtime's
 * shutdown (lib/runtime.ts), which owns the process's lifetime: no signal handler here.
 */
export function getDbHandle(): Promise<DbHandle> {
  const state = processState();
  if (!state.db) {
    const opening = (async () => {
      const url = process.env.DATABASE_URL?.trim();
      if (url) return openDatabase({ url, max: Number(process.env.DATABASE_POOL_SIZE) || 10 });
      const { dataDir } = await import("@/lib/config");
      return openDatabase({ pgliteDir: path.join(dataDir(), "pgdata") });
    })();
    state.db = opening;
    opening.catch(() => {
      if (state.db === opening) state.db = undefined;
    });
  }
  return state.db;
}

export async function getDb(): Promise<Db> {
  return (await getDbHandle()).db;
}

/** Rows of a raw `execute()`, whatever the driver (postgres.js returns an array, PGlite `{rows}`). */
export async function rows<T>(ex: Executor, query: SQL): Promise<T[]> {
  const result = (await ex.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
