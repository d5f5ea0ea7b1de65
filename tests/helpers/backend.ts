/**
 * The database of an integration suite, opened and closed around it (kept apart from db.ts, which the
 * global setups of the e2e, security and fault suites import outside any test file).
 */
import { afterAll, beforeAll } from "vitest";
import type { DbHandle } from "@/lib/db/client";
import type { Backend, TestDatabase } from "./db";

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
