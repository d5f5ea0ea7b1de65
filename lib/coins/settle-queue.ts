/**
 * Group commit for settlements. Under load, every settlement of one client updates the same
 * counter rows (clients, api_keys, per-model, per-day, pool), and each statement holds those row
 * locks until its commit is flushed to disk — so one statement per request tops out at a few hundred
 * requests per second per client, however many connections there are (bench/gateway).
 *
 * The queue runs ONE settleMany statement at a time per database handle; settlements that arrive
 * meanwhile wait for the next one, which records them all together. An idle queue sends on the next
 * turn of the event loop (no timer: the answer waits for this commit); under load the batch grows by
 * itself with the arrival rate, since one statement is in flight at a time. Each
 * caller's promise resolves once its own request-log row and counters are committed, so the
 * guarantees of settle() hold unchanged: counters equal the log at every commit.
 *
 * A failed batch is retried once when PostgreSQL chose it as a deadlock victim (two instances whose
 * batches touch the same clients in a different order). When the database is unreachable or went away
 * (connection refused or reset, SQLSTATE 08xxx, 57P01–57P03) the batch is retried with backoff until
 * each request's `retryUntil` (shortly before its reservation would expire): settlement is keyed by
 * the request's settlement id, so a retry after a commit whose answer was lost bills nothing twice.
 * Any other failure settles the batch's requests one by one, so that one bad request cannot lose the
 * others. While a settlement is queued or retried its reservation is "held": the sweeper of this
 * process never returns it (`heldReservations`).
 */
import { randomUUID } from "node:crypto";
import type { Db } from "@/lib/db/client";
import { isDbUnavailable, isDeadlock } from "@/lib/db/errors";
import type { Admission } from "./admission";
import { BatchStats, perHandle } from "./batching";
import type { RequestRecord } from "./request-record";
import { settleMany, type SettleItem } from "./settle";

/** Requests per statement at most (keeps the JSON parameter and the statement's locks bounded). */
export const MAX_BATCH = 256;

/** Retry a settlement for this long when its caller names no deadline. */
export const DEFAULT_RETRY_MS = 55_000;

/** Backoff between retries while the database is unreachable: 100 ms doubling, at most 2 s. */
const backoffMs = (attempt: number) => Math.min(2_000, 100 * 2 ** Math.min(attempt, 5));

interface Waiting extends SettleItem {
  retryUntil: number;
  resolve(): void;
  reject(err: unknown): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SettleOptions {
  /** Epoch ms: retry an unreachable database until then, then give up (the sweeper returns the reservation). */
  retryUntil?: number;
}

export class SettleQueue {
  private waiting: Waiting[] = [];
  private running = false;
  private readonly held = new Map<string, number>();
  readonly stats = new BatchStats();

  constructor(private readonly db: Db) {}

  /** Resolves when this request's settlement is committed; rejects when it failed for good. */
  settle(admission: Admission, record: RequestRecord, options: SettleOptions = {}): Promise<void> {
    // One id and one time for every attempt: (settlement_id, created_at) is the unique key that makes a
    // retry harmless (created_at is the log's partition key, so it is part of every unique key).
    const keyed: RequestRecord = { ...record, settlementId: record.settlementId ?? randomUUID(), at: record.at ?? new Date() };
    const reservation = admission.kind === "reserved" ? admission.reservationId : null;
    if (reservation) this.held.set(reservation, (this.held.get(reservation) ?? 0) + 1);
    const work = new Promise<void>((resolve, reject) => {
      this.waiting.push({ admission, record: keyed, retryUntil: options.retryUntil ?? Date.now() + DEFAULT_RETRY_MS, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Settlements made in the same turn of the event loop share the statement.
        setImmediate(() => void this.drain());
      }
    });
    if (!reservation) return work;
    const unhold = () => {
      const n = (this.held.get(reservation) ?? 1) - 1;
      if (n <= 0) this.held.delete(reservation);
      else this.held.set(reservation, n);
    };
    return work.then(unhold, (err: unknown) => {
      unhold();
      throw err;
    });
  }

  /** Settlements queued or being written. */
  get pending(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  /** Reservation ids whose settlement this queue still holds (queued, being written or retried). */
  heldReservations(): string[] {
    return [...this.held.keys()];
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, MAX_BATCH);
        await this.write(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async write(initial: Waiting[]): Promise<void> {
    let batch = initial;
    for (let attempt = 0, unavailable = 0; ; attempt++) {
      try {
        await this.send(batch);
        for (const w of batch) w.resolve();
        return;
      } catch (err) {
        if (isDeadlock(err) && attempt === 0) continue;
        if (isDbUnavailable(err)) {
          const now = Date.now();
          for (const w of batch) if (w.retryUntil <= now) w.reject(err);
          batch = batch.filter((w) => w.retryUntil > now);
          if (batch.length === 0) return;
          await sleep(backoffMs(unavailable++));
          continue;
        }
        if (batch.length === 1) {
          batch[0]!.reject(err);
          return;
        }
        break;
      }
    }
    for (const w of batch) await this.write([w]);
  }

  private async send(batch: readonly SettleItem[]): Promise<void> {
    await settleMany(this.db, batch);
    this.stats.count(batch.length);
  }
}

/** The settlement queue of a database handle (one per handle and process). */
export const settleQueue = perHandle((db) => new SettleQueue(db));
