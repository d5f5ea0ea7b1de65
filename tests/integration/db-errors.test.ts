import { afterAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { openDatabase, type Db, type DbHandle } from "@/lib/db/client";
import { DbTimeoutError, describeDbError, isDbUnavailable, isUniqueViolation, withDbTimeout } from "@/lib/db/errors";
import { errorFields } from "@/lib/log";
import { backends, useBackend } from "../helpers/backend";

const SECRET_PARAM = "hash-4b1d9c0e7f2a";

describe.each(backends())("database errors as Lumen logs them ($name)", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));

  it("describes a failed query by code and PostgreSQL's message, never its SQL text or parameters", async () => {
    const err = await db
      .execute(sql`select * from api_keys where key_hash = ${SECRET_PARAM} and no_such_column = 1`)
      .then(() => null, (e: unknown) => e);
    expect(err).not.toBeNull();
    expect(String((err as Error).message)).toContain(SECRET_PARAM); // drizzle's own message does carry it…
    const fields = errorFields(err);
    expect(fields.code).toBe("42703");
    expect(JSON.stringify(fields)).not.toContain(SECRET_PARAM); // …what Lumen logs does not
    expect(JSON.stringify(fields).toLowerCase()).not.toContain("select");
    expect(isDbUnavailable(err)).toBe(false);
  });

  it("tells a unique violation apart", async () => {
    await db.execute(sql`insert into clients (name) values ('twin')`);
    const err = await db.execute(sql`insert into clients (name) values ('TWIN')`).then(() => null, (e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(isDbUnavailable(err)).toBe(false);
  });
});

describe("an unreachable database", () => {
  let handle: DbHandle | null = null;
  afterAll(async () => handle?.close());

  it("is 'unavailable' (connection refused), and a timeout of ours is too", async () => {
    // Nothing listens on port 1: postgres.js fails to connect (the pool is lazy, so opening runs migrations and fails).
    const err = await openDatabase({ url: "postgres://postgres@127.0.0.1:1/none" }).then(
      (h) => {
        handle = h;
        return null;
      },
      (e: unknown) => e,
    );
    expect(isDbUnavailable(err)).toBe(true);
    expect(describeDbError(err).code).toBe("ECONNREFUSED");
    const late = withDbTimeout(new Promise((r) => setTimeout(r, 500)), 20);
    await expect(late).rejects.toBeInstanceOf(DbTimeoutError);
    expect(isDbUnavailable(await late.catch((e: unknown) => e))).toBe(true);
  });
});
