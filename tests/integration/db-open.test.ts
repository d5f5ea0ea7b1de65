import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { lockPgliteDir, openDatabase, rows } from "@/lib/db/client";
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
    await again.close();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
    release();
  });

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
