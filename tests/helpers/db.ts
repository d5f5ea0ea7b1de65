import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { migrationsFolder, openDatabase, type Db, type DbHandle } from "@/lib/db/client";

export interface TestDatabase {
  handle: DbHandle;
  cleanup(): Promise<void>;
}

export interface Backend {
  name: "pglite" | "postgres";
  open(): Promise<TestDatabase>;
}

const pglite: Backend = {
  name: "pglite",
  async open() {
    const handle = await openDatabase({});
    return { handle, cleanup: () => handle.close() };
  },
};

/** A fresh, uniquely named database on the PostgreSQL server at TEST_DATABASE_URL, dropped afterwards. */
export async function createServerDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `lumen_test_${crypto.randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

const server = (baseUrl: string): Backend => ({
  name: "postgres",
  async open() {
    const created = await createServerDatabase(baseUrl);
    const handle = await openDatabase({ url: created.url, max: 20 });
    return {
      handle,
      async cleanup() {
        await handle.close();
        await created.drop();
      },
    };
  },
});

/** PGlite always; the PostgreSQL server too when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  const url = process.env.TEST_DATABASE_URL?.trim();
  return url ? [pglite, server(url)] : [pglite];
}

/** A copy of drizzle/ that stops before migration `tag`: the schema of an install made before it (remove it after). */
export function migrationsBefore(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-migrations-"));
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder(), "meta/_journal.json"), "utf8")) as {
    entries: Array<{ idx: number; tag: string }>;
  };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  if (cut <= 0) throw new Error(`no migration ${tag} after the first`);
  journal.entries = journal.entries.slice(0, cut);
  fs.mkdirSync(path.join(dir, "meta"));
  fs.writeFileSync(path.join(dir, "meta/_journal.json"), JSON.stringify(journal));
  for (const e of journal.entries) fs.copyFileSync(path.join(migrationsFolder(), `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  return dir;
}

export interface BareDatabase {
  db: Db;
  migrate(folder: string): Promise<void>;
  close(): Promise<void>;
}

/** A fresh database of `kind`, migrated by hand (openDatabase would apply every migration at once). */
export async function openBare(kind: "pglite" | "postgres"): Promise<BareDatabase> {
  if (kind === "pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const client = new PGlite({ extensions: { pg_trgm } });
    const db = drizzle(client);
    return { db: db as unknown as Db, migrate: (folder) => migrate(db, { migrationsFolder: folder }), close: () => client.close() };
  }
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
