/**
 * Upkeep of the request log's monthly partitions. A busy install writes millions of log rows a day;
 * pages and charts read the counters and daily rollups, so the log only has to reach back as far as
 * `data.request_log_retention_days`. request_log is partitioned by month on created_at
 * (drizzle/0011_request_log_partitions.sql), and this module
 *
 * - creates the partitions of this month and the next two ahead of need (an insert never waits for one),
 *   keeping the DEFAULT partition as the safety net for a clock far off: an insert never fails for lack
 *   of a partition. Rows that landed in DEFAULT for a month that now gets its partition move into it;
 * - drops whole partitions whose month ended more than the retention ago — a DROP, never a DELETE of
 *   rows (no dead tuples, no vacuum, no long transaction). In the same transaction it writes the dropped
 *   partition's sums per client, key and model to request_log_dropped, so "counters = log + dropped"
 *   stays exactly checkable forever (lib/coins/audit.ts). The counters themselves are not touched.
 *
 * Each change is its own short transaction under an advisory lock (several instances may run upkeep at
 * once; the loser finds the work done) and a lock timeout: DROP and CREATE … PARTITION OF take an
 * exclusive lock on request_log, and a waiting exclusive lock queues every settlement behind it, so
 * upkeep gives up after LOCK_TIMEOUT and tries again on its next run rather than stall the gateway.
 * Runs with nothing to do touch only the catalog. lib/runtime.ts runs it 2 s after start and hourly.
 */
import { sql } from "drizzle-orm";
import { rows, type Db, type Executor } from "./client";

const UPKEEP_LOCK_ID = 727_274_002;
const LOCK_TIMEOUT = "5s";
/** Months created ahead of the current one. */
export const MONTHS_AHEAD = 2;
export const DEFAULT_PARTITION = "request_log_default";
const NAME = /^request_log_y(\d{4})m(\d{2})$/;
const DAY_MS = 86_400_000;

/** A monthly partition: its name and its range [from, to). */
export interface MonthPartition {
  name: string;
  from: Date;
  to: Date;
}

/** The partition of the month `monthsFromNow` months from `at` (UTC). */
export function monthPartition(at: Date, monthsFromNow = 0): MonthPartition {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + monthsFromNow, 1));
  const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
  const name = `request_log_y${from.getUTCFullYear()}m${String(from.getUTCMonth() + 1).padStart(2, "0")}`;
  return { name, from, to };
}

function parseName(name: string): MonthPartition | null {
  const m = NAME.exec(name);
  if (!m) return null;
  return monthPartition(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
}

/** The partitions of request_log now: the monthly ones, oldest first, and whether DEFAULT exists. */
export async function listPartitions(ex: Executor): Promise<{ months: MonthPartition[]; hasDefault: boolean }> {
  const found = await rows<{ name: string }>(
    ex,
    sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'request_log'::regclass`,
  );
  const months = found.flatMap((r) => parseName(r.name) ?? []).sort((a, b) => a.from.getTime() - b.from.getTime());
  return { months, hasDefault: found.some((r) => r.name === DEFAULT_PARTITION) };
}

const literal = (d: Date) => sql.raw(`'${d.toISOString()}'`);

/** One change under the upkeep lock; `change` returns false when another instance already made it. */
async function locked(db: Db, change: (tx: Executor) => Promise<boolean>): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${UPKEEP_LOCK_ID})`);
    await tx.execute(sql.raw(`set local lock_timeout = '${LOCK_TIMEOUT}'`));
    return change(tx);
  });
}

const exists = async (tx: Executor, name: string) =>
  (await rows<{ t: string | null }>(tx, sql`select to_regclass(${`public.${name}`})::text as t`))[0]?.t != null;

/**
 * Creates a month's partition. Rows the DEFAULT partition holds for that month (written while the
 * partition was missing) are moved into it first, since PostgreSQL refuses a partition whose rows
 * DEFAULT already holds.
 */
async function addMonth(tx: Executor, p: MonthPartition): Promise<void> {
  const id = sql.identifier(p.name);
  const inRange = sql`created_at >= ${literal(p.from)} and created_at < ${literal(p.to)}`;
  const [stray] = (await exists(tx, DEFAULT_PARTITION))
    ? await rows<{ any: boolean }>(tx, sql`select exists (select 1 from ${sql.identifier(DEFAULT_PARTITION)} where ${inRange}) as any`)
    : [];
  if (!stray?.any) {
    await tx.execute(sql`create table ${id} partition of request_log for values from (${literal(p.from)}) to (${literal(p.to)})`);
    return;
  }
  await tx.execute(sql`create table ${id} (like request_log including defaults)`);
  await tx.execute(sql`
    with moved as (delete from ${sql.identifier(DEFAULT_PARTITION)} where ${inRange} returning *)
    insert into ${id} select * from moved`);
  await tx.execute(sql`alter table request_log attach partition ${id} for values from (${literal(p.from)}) to (${literal(p.to)})`);
}

async function createMonth(db: Db, p: MonthPartition): Promise<boolean> {
  return locked(db, async (tx) => {
    if (await exists(tx, p.name)) return false;
    await addMonth(tx, p);
    return true;
  });
}

/**
 * Creates the missing partitions of every month from `from` to `to`, in the caller's transaction (bulk
 * loads: the seed and the benches write history that reaches back before the months upkeep made).
 */
export async function ensureMonths(tx: Executor, from: Date, to: Date): Promise<string[]> {
  const made: string[] = [];
  for (let p = monthPartition(from); p.from.getTime() <= to.getTime(); p = monthPartition(p.to)) {
    if (await exists(tx, p.name)) continue;
    await addMonth(tx, p);
    made.push(p.name);
  }
  return made;
}

/** Drops a month's partition, recording its sums in request_log_dropped in the same transaction. */
async function dropMonth(db: Db, p: MonthPartition): Promise<boolean> {
  return locked(db, async (tx) => {
    if (!(await exists(tx, p.name))) return false;
    const id = sql.identifier(p.name);
    await tx.execute(sql`
      insert into request_log_dropped (partition, client_id, key_id, model, requests, input_tokens, output_tokens,
        coins_spent, audio_seconds)
      select ${p.name}, client_id, key_id, model, count(*), sum(input_tokens), sum(output_tokens), sum(coins),
        sum(audio_seconds)
      from ${id} group by client_id, key_id, model`);
    await tx.execute(sql`drop table ${id}`);
    return true;
  });
}

export interface UpkeepResult {
  created: string[];
  dropped: string[];
}

export interface UpkeepOptions {
  /** data.request_log_retention_days: months that ended longer ago than this are dropped. */
  retentionDays: number;
  /** The clock (tests). */
  now?: Date;
}

/**
 * Creates the partitions of this month and the next MONTHS_AHEAD (and DEFAULT if missing), and drops
 * those whose month ended more than `retentionDays` ago. Idempotent; safe on several instances at once.
 */
export async function maintainRequestLog(db: Db, { retentionDays, now = new Date() }: UpkeepOptions): Promise<UpkeepResult> {
  if (!Number.isSafeInteger(retentionDays) || retentionDays < 1) throw new RangeError(`retention: expected whole days ≥ 1, got ${retentionDays}`);
  const result: UpkeepResult = { created: [], dropped: [] };
  const { months, hasDefault } = await listPartitions(db);
  if (!hasDefault) {
    const made = await locked(db, async (tx) => {
      if (await exists(tx, DEFAULT_PARTITION)) return false;
      await tx.execute(sql`create table ${sql.identifier(DEFAULT_PARTITION)} partition of request_log default`);
      return true;
    });
    if (made) result.created.push(DEFAULT_PARTITION);
  }
  const have = new Set(months.map((p) => p.name));
  for (let i = 0; i <= MONTHS_AHEAD; i++) {
    const p = monthPartition(now, i);
    if (!have.has(p.name) && (await createMonth(db, p))) result.created.push(p.name);
  }
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  for (const p of months) {
    if (p.to.getTime() <= cutoff && (await dropMonth(db, p))) result.dropped.push(p.name);
  }
  return result;
}
