/**
 * Group commit for settlements. Under load, every settlement of one client updates the same
 * counter rows (clients, api_keys, per-model, per-day, pool), and each statement holds those row
 * locks until its commit is flushed to disk — so one statement per request tops out at a few hundred
 * requests per second per client, however many connections there are (bench/gateway).
 *
 * The queue runs ONE settleMany statement at a time per database handle; settlements that arrive
 * meanwhile wait for the next one, which records them all together. An idle queue waits
 * GROUP_COMMIT_DELAY_MS before sending; under load the batch grows by itself with the arrival rate. Each
 * caller's promise resolves once its own request-log row and counters are committed, so the
 * guarantees of settle() hold unchanged: counters equal the log at every commit.
 *
 * A failed batch is retried once when PostgreSQL chose it as a deadlock victim (two instances whose
 * batches touch the same clients in a different order); otherwise its requests are settled one by one
 * so that one bad request cannot lose the others.
 */
import type { Db } from "@/lib/db/client";
import type { Admission } from "./admission";
import { BatchStats, perHandle } from "./batching";
import { settleMany, type SettleItem, type Usage } from "./settle";

/** How long an idle queue waits before sending, to gather settlements arriving meanwhile. */
export const GROUP_COMMIT_DELAY_MS = 2;

/** Requests per statement at most (keeps the JSON parameter and the statement's locks bounded). */
export const MAX_BATCH = 256;

interface Waiting extends SettleItem {
  resolve(): void;
  reject(err: unknown): void;
}

const isDeadlock = (err: unknown) => {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code === "40P01" || e?.cause?.code === "40P01";
};

export class SettleQueue {
  private waiting: Waiting[] = [];
  private running = false;
  readonly stats = new BatchStats();

  constructor(private readonly db: Db) {}

  /** Resolves when this request's settlement is committed; rejects when it failed. */
  settle(admission: Admission, usage: Usage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ admission, usage, resolve, reject });
      if (!this.running) {
        this.running = true;
        // A short group-commit window (like PostgreSQL's commit_delay): the caller's answer
        // (after-answer mode) is written first, the next request's admission is not delayed by this
        // statement, and settlements arriving meanwhile share it.
        setTimeout(() => void this.drain(), GROUP_COMMIT_DELAY_MS);
      }
    });
  }

  /** Settlements queued or being written. */
  get pending(): number {
    return this.waiting.length + (this.running ? 1 : 0);
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

  private async write(batch: Waiting[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.send(batch);
        for (const w of batch) w.resolve();
        return;
      } catch (err) {
        if (isDeadlock(err) && attempt === 0) continue;
        if (batch.length === 1) {
          batch[0]!.reject(err);
          return;
        }
        break;
      }
    }
    for (const w of batch) {
      try {
        await this.send([w]);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
  }

  private async send(batch: readonly SettleItem[]): Promise<void> {
    await settleMany(this.db, batch);
    this.stats.count(batch.length);
  }
}

/** The settlement queue of a database handle (one per handle and process). */
export const settleQueue = perHandle((db) => new SettleQueue(db));
