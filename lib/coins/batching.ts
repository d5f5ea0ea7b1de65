/** What the two write queues (admission-queue.ts, settle-queue.ts) share. */
import type { Db } from "@/lib/db/client";

/** Statements sent and requests they carried (for tests and benchmarks). */
export class BatchStats {
  statements = 0;
  requests = 0;
  largestBatch = 0;

  count(requests: number): void {
    this.statements++;
    this.requests += requests;
    this.largestBatch = Math.max(this.largestBatch, requests);
  }
}

/** One `create(db)` per database handle and process, made on first use. */
export function perHandle<T>(create: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<Db, T>();
  return (db) => {
    let value = made.get(db);
    if (value === undefined) {
      value = create(db);
      made.set(db, value);
    }
    return value;
  };
}
