/**
 * The database of an integration suite, opened and closed around it (kept apart from db.ts, which the
 * global setups of the e2e, security and fault suites import outside any test file).
 */
import { afterAll, beforeAll } from "vitest";
import { openDatabase, type DbHandle } from "@/lib/db/client";
import { createServerDatabase, type Backend, type TestDatabase } from "./db";

export { backends, type Backend } from "./db";

/**
 * Opens `backend` before the suite's tests and closes it (for PostgreSQL, drops its database) after
 * them; `opened` receives the handle — assign its `db` to the suite's. Call it first in the suite, so
 * the suite's own beforeAll runs after the open and its afterAll before the close.
 */
export function useBackend(backend: Backend, opened: (handle: DbHandle) => void): void {
  let t: TestDatabase | undefined;
  beforeAll(async () => {
    t = await backend.open();
    opened(t.handle);
  });
  afterAll(async () => t?.cleanup());
}

/**
 * Two app instances on one PostgreSQL database (TEST_DATABASE_URL; the suite skips without it): a fresh
 * database opened through two handles before the suite's tests, closed and dropped after. The returned
 * array is filled in beforeAll.
 */
export function useTwoInstances(): DbHandle[] {
  const handles: DbHandle[] = [];
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const created = await createServerDatabase(process.env.TEST_DATABASE_URL!.trim());
    drop = created.drop;
    handles.push(await openDatabase({ url: created.url, max: 10 }));
    handles.push(await openDatabase({ url: created.url, max: 10 }));
  });
  afterAll(async () => {
    for (const h of handles) await h.close();
    await drop?.();
  });
  return handles;
}
