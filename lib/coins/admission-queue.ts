/**
 * Batched admission. Every admission of a client locks that client's pool row for its statement, so
 * one statement per request queues a busy client's requests one behind another. The queue keeps ONE
 * admission statement in flight per client (and pool settings) per database handle; requests arriving
 * meanwhile are admitted together by the next statement (admitMany), with the same outcome as one by
 * one in arrival order. An idle client's request is sent at once — no added wait.
 *
 * A failed batch is retried request by request, so one failure cannot refuse the others.
 */
import type { Db } from "@/lib/db/client";
import { admit, admitMany, type Admission, type AdmitInput, type Refusal } from "./admission";
import { BatchStats, perHandle } from "./batching";
import { hasPool } from "./pool";

/** Requests per statement at most. */
export const MAX_ADMISSION_BATCH = 256;

type Result = Admission | Refusal;

interface Waiting {
  input: AdmitInput;
  resolve(result: Result): void;
  reject(err: unknown): void;
}

interface Lane {
  waiting: Waiting[];
  running: boolean;
}

export class AdmissionQueue {
  private readonly lanes = new Map<string, Lane>();
  readonly stats = new BatchStats();

  constructor(private readonly db: Db) {}

  admit(input: AdmitInput): Promise<Result> {
    // Unlimited, blocked or missing pools write nothing: no queue. A request with its own clock
    // (`now`, tests) is admitted alone, since a batch shares one clock.
    if (!input.pool || !hasPool(input.pool) || input.now) return admit(this.db, input);
    const key = `${input.clientId}|${input.pool.max}|${input.pool.refresh}|${input.pool.starting}|${input.timeoutSeconds}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiting: [], running: false };
      this.lanes.set(key, lane);
    }
    const l = lane;
    return new Promise<Result>((resolve, reject) => {
      l.waiting.push({ input, resolve, reject });
      if (!l.running) void this.drain(key, l);
    });
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.waiting.length > 0) {
        const batch = lane.waiting.splice(0, MAX_ADMISSION_BATCH);
        await this.write(batch);
      }
    } finally {
      lane.running = false;
      if (lane.waiting.length === 0) this.lanes.delete(key);
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    const first = batch[0]!.input;
    try {
      const results = await admitMany(this.db, { ...first, estimates: batch.map((w) => w.input.estimate) });
      this.stats.count(batch.length);
      batch.forEach((w, i) => w.resolve(results[i]!));
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    for (const w of batch) {
      try {
        w.resolve(await admit(this.db, w.input));
        this.stats.count(1);
      } catch (err) {
        w.reject(err);
      }
    }
  }
}

/** The admission queue of a database handle (one per handle and process). */
export const admissionQueue = perHandle((db) => new AdmissionQueue(db));
