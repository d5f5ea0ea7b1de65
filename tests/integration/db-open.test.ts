import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { lockPgliteDir, migrationsFolder, openDatabase, PGLITE_SHARED_BUFFERS, rows } from "@/lib/db/client";
import { createServerDatabase } from "../helpers/db";

describe("opening the database", () => {
  it("a PGlite folder cannot be opened twice while in use, and can be after close", async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lumen-lock-")), "pgdata");
    const first = await openDatabase({ pgliteDir: dir });
    // another process holding the lock: simulate with our parent's pid (alive, not us)
    await first.close();
    const release = lockPgliteDir(dir);
    fs.writeFileSync(`${dir}.lock`, String(process.ppid));
    await expect(openDatabase({ pgliteDir: dir })).rejects.toThrow(/in use by another process/);
    // a stale lock (dead pid) is taken over
    fs.writeFileSync(`${dir}.lock`, "999999999");
    const again = await openDatabase({ pgliteDir: dir });
    const [r] = await rows<{ n: number }>(again.db, sql`select count(*)::int as n from clients`);
    expect(r?.n).toBe(0);
    // Opened with Lumen's start parameters: the smaller buffer cache, and PGlite's own defaults kept.
    const [settings] = await rows<{ sb: string; sp: string }>(again.db, sql`select current_setting('shared_buffers') as sb, current_setting('search_path') as sp`);
    expect(settings).toEqual({ sb: PGLITE_SHARED_BUFFERS, sp: "public" });
    await again.close();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
    release();
  });

  it("a PGlite folder at an older migration gets the newer ones at open, and a folder at the newest keeps its rows", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-migrate-"));
    const dir = path.join(tmp, "pgdata");
    // The folder as an older Lumen left it: migrated with the journal's first entries only.
    const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder(), "meta", "_journal.json"), "utf8")) as {
      entries: { tag: string; when: number }[];
    };
    expect(journal.entries.length).toBeGreaterThanOrEqual(3);
    const older = path.join(tmp, "drizzle-older");
    fs.mkdirSync(path.join(older, "meta"), { recursive: true });
    const kept = journal.entries.slice(0, -2);
    fs.writeFileSync(path.join(older, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: kept }));
    for (const e of kept) fs.copyFileSync(path.join(migrationsFolder(), `${e.tag}.sql`), path.join(older, `${e.tag}.sql`));
    const { PGlite } = await import("@electric-sql/pglite");
    const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
    const { drizzle } = await import("drizzle-orm/pglite");
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    const old = new PGlite({ dataDir: dir, extensions: { pg_trgm } });
    await migrate(drizzle(old), { migrationsFolder: older });
    await old.close();

    const applied = async (h: Awaited<ReturnType<typeof openDatabase>>) =>
      (await rows<{ n: number; last: string }>(h.db, sql`select count(*)::int as n, max(created_at)::text as last from drizzle.__drizzle_migrations`))[0];
    const opened = await openDatabase({ pgliteDir: dir });
    expect(await applied(opened)).toEqual({ n: journal.entries.length, last: String(journal.entries.at(-1)!.when) });
    await opened.db.execute(sql`insert into clients (name) values ('kept across opens')`);
    await opened.close();

    // At the newest migration: nothing is applied twice, the data is there.
    const again = await openDatabase({ pgliteDir: dir });
    expect(await applied(again)).toEqual({ n: journal.entries.length, last: String(journal.entries.at(-1)!.when) });
    const [c] = await rows<{ n: number }>(again.db, sql`select count(*)::int as n from clients where name = 'kept across opens'`);
    expect(c?.n).toBe(1);
    await again.close();
  });

  it.runIf(Boolean(process.env.TEST_DATABASE_URL))("a pool of 1 (DATABASE_POOL_SIZE=1) opens and migrates instead of waiting for itself", async () => {
    const created = await createServerDatabase(process.env.TEST_DATABASE_URL!);
    try {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("openDatabase with max 1 did not finish within 20 s")), 20_000);
      });
      const handle = await Promise.race([openDatabase({ url: created.url, max: 1 }), hung]).finally(() => clearTimeout(timer));
      // And it serves two statements at once (the gateway's settlement beside a page's query).
      const [a, b] = await Promise.all([
        rows<{ n: number }>(handle.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`),
        rows<{ n: number }>(handle.db, sql`select count(*)::int as n from clients`),
      ]);
      expect(a[0]?.n).toBe(fs.readdirSync(path.join(process.cwd(), "drizzle")).filter((f) => f.endsWith(".sql")).length);
      expect(b[0]?.n).toBe(0);
      await handle.close();
    } finally {
      await created.drop();
    }
  }, 30_000);

  it.runIf(Boolean(process.env.TEST_DATABASE_URL))("two instances starting together migrate once", async () => {
    const created = await createServerDatabase(process.env.TEST_DATABASE_URL!);
    try {
      const handles = await Promise.all([1, 2, 3].map(() => openDatabase({ url: created.url, max: 2 })));
      const [m] = await rows<{ n: number }>(handles[0]!.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      const files = fs.readdirSync(path.join(process.cwd(), "drizzle")).filter((f) => f.endsWith(".sql"));
      expect(m?.n).toBe(files.length);
      await Promise.all(handles.map((h) => h.close()));
    } finally {
      await created.drop();
    }
  });
});
