/**
 * Settlement (SPEC sections 5 and 6): a request that reached the upstream is recorded exactly once —
 * its reservation is replaced by the true cost, one request-log row is written and the per-client,
 * per-key, per-model and per-day counters are incremented, all in one transaction.
 */
import { randomUUID } from "node:crypto";
import { sql, type SQL } from "drizzle-orm";
import { rows, type Db, type Executor } from "@/lib/db/client";
import { clearFinished, markFinished, type Admission } from "./admission";
import { audioMillis } from "./cost";
import { normalizeCoins, parseCoins } from "./decimal";
import { leaseSettled } from "./lease-local";
import type { RequestRecord } from "./request-record";

export type { RequestRecord } from "./request-record";

function wholeNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what}: expected a whole number ≥ 0, got ${value}`);
  return value;
}

const millis = (ms: number) => Math.max(0, Math.round(ms));

/** One request to record: its admission and what it cost. */
export interface SettleItem {
  admission: Admission;
  record: RequestRecord;
}

/** Checks an item before anything is written; throws RangeError/Error on a programming error. */
function checkItem({ admission, record }: SettleItem): void {
  // (settlement_id, created_at) is the log's unique key: a record that can be settled again (it has its
  // id) must carry its time too, or a retry would be a new row and a second bill.
  if (record.settlementId && !record.at) throw new Error("settle: a record with a settlement id must carry its time (at), stamped before the first attempt");
  if ((admission.kind === "reserved" || admission.kind === "leased") && admission.clientId !== record.clientId) {
    throw new Error("settle: the record belongs to another client than the admission");
  }
  wholeNumber(record.inputTokens, "input tokens");
  wholeNumber(record.outputTokens, "output tokens");
  audioMillis(record.audioSeconds ?? 0);
  if (parseCoins(record.coins) < 0n) throw new RangeError(`settle: negative cost ${record.coins}`);
}

/** The statement's input: one JSON object per request (jsonb_to_recordset below). */
function itemJson({ admission, record: r }: SettleItem, ord: number) {
  return {
    ord,
    reservation_id: admission.kind === "reserved" ? admission.reservationId : null,
    lease_id: admission.kind === "leased" ? admission.leaseId : null,
    client_id: r.clientId,
    key_id: r.keyId,
    model: r.model,
    endpoint: r.endpoint,
    status: r.status,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    coins: normalizeCoins(r.coins),
    // Exact to the millisecond, as text: numeric(20, 3) takes it without a float in between.
    audio_seconds: (Number(audioMillis(r.audioSeconds ?? 0)) / 1000).toFixed(3),
    duration_ms: millis(r.durationMs),
    ttft_ms: r.ttftMs === null ? null : millis(r.ttftMs),
    streamed: r.streamed,
    usage_estimated: r.usageEstimated,
    error_code: r.errorCode ?? null,
    settlement_id: r.settlementId ?? randomUUID(),
    request_id: r.requestId ?? null,
    at: (r.at ?? new Date()).toISOString(),
  };
}

/**
 * The statement's rows, from one JSON parameter. One request (every settlement at low load) is one JSON
 * object read with `jsonb_to_record`, which the planner counts as one row; several are an array read
 * with `jsonb_to_recordset`, which it counts as 100 whatever the array holds. The two texts are two
 * prepared statements with their own plans. With the estimate of 100 for a single request, the plan
 * joined clients and api_keys by scanning them whole wherever that looked cheaper than 100 index
 * lookups, i.e. up to some 20,000 clients: measured on 2,000 clients and 4,000 keys, 1.73 ms of
 * execution against 0.61 ms with index lookups (EXPLAIN ANALYZE of the prepared statement). For full
 * batches the estimate is near the truth, and their plan is left as it is.
 */
function inputRows(todo: readonly SettleItem[]): SQL {
  if (todo.length === 1) return sql`jsonb_to_record(${JSON.stringify(itemJson(todo[0]!, 0))}::jsonb)`;
  return sql`jsonb_to_recordset(${JSON.stringify(todo.map(itemJson))}::jsonb)`;
}

/**
 * Records finished requests — one or many — in ONE SQL statement, hence one transaction. Each request
 * is keyed by its settlement id: its request-log row is inserted only when that id is new (unique
 * index on (settlement_id, created_at): the log is partitioned by created_at, so a retry must carry the
 * record's `at` as well — SettleQueue stamps both before the first attempt), and everything else happens only for the rows inserted here — so settling the same request
 * twice (a retry after a commit whose answer was lost with the connection) records and bills it once.
 * For each inserted request its reservation row is deleted and only a reservation deleted here is
 * credited back (a reservation the sweeper already returned is never credited twice; the pool is then
 * charged the full cost and the request still recorded), the true cost is charged to the pool — for a
 * leased admission (lease.ts) to its lease row while that exists, else (returned or swept meanwhile) to
 * the pool itself, never both — and the
 * per-client, per-key, per-model and per-day counters are incremented by the batch's sums. The log and
 * the counters therefore change together or not at all. A record with a settlement id must carry its
 * `at` (SettleQueue stamps both); one without either gets both now. An admission already settled
 * or released by this process is skipped. Locks follow lease-sql.ts's order: reservations, then the pools
 * in client order, then the leases in (client, holder) order.
 */
export async function settleMany(db: Db, items: readonly SettleItem[]): Promise<void> {
  for (const item of items) checkItem(item);
  const todo = items.filter((item) => markFinished(item.admission));
  if (todo.length === 0) return;
  try {
    await db.execute(sql`
      with input as (
        select x.ord, x.settlement_id, x.request_id, x.reservation_id, x.lease_id, x.client_id, x.key_id, x.model, x.endpoint,
               x.status, x.input_tokens, x.output_tokens, x.coins, x.audio_seconds, x.duration_ms, x.ttft_ms, x.streamed,
               x.usage_estimated, x.error_code, x.at
        from ${inputRows(todo)} as x(ord int, settlement_id uuid, request_id text, reservation_id uuid, lease_id uuid,
          client_id uuid, key_id uuid, model text, endpoint text, status int, input_tokens bigint, output_tokens bigint,
          coins numeric, audio_seconds numeric, duration_ms int, ttft_ms int, streamed boolean, usage_estimated boolean,
          error_code text, at timestamptz)
      ),
      logged as (
        insert into request_log (created_at, client_id, key_id, model, endpoint, status, input_tokens, output_tokens,
          coins, audio_seconds, duration_ms, ttft_ms, streamed, usage_estimated, error_code, request_id, settlement_id)
        select at, client_id, key_id, model, endpoint, status, input_tokens, output_tokens, coins, audio_seconds,
          duration_ms, ttft_ms, streamed, usage_estimated, error_code, request_id, settlement_id
        from input order by ord
        on conflict (settlement_id, created_at) do nothing
        returning settlement_id
      ),
      items as (select i.* from input i join logged l on l.settlement_id = i.settlement_id),
      released as (
        delete from coin_reservations r using items i where r.id = i.reservation_id
        returning r.client_id, r.amount
      ),
      pools as (
        select p.client_id from coin_pools p
        where p.client_id in (select client_id from items where reservation_id is not null or lease_id is not null)
          and (select count(*) from released) >= 0
        order by p.client_id for update
      ),
      leases as (
        select l.id from coin_leases l
        where l.id in (select lease_id from items where lease_id is not null) and (select count(*) from pools) >= 0
        order by l.client_id, l.holder for update
      ),
      lease_charged as (
        update coin_leases l set amount = l.amount - c.coins
        from (select lease_id, sum(coins) as coins from items where lease_id is not null group by lease_id) c
          join leases k on k.id = c.lease_id
        where l.id = c.lease_id
        returning l.id, l.client_id, c.coins
      ),
      pool_change as (
        select client_id, sum(delta) as delta, sum(leased) as leased from (
          select client_id, amount as delta, 0 as leased from released
          union all
          select client_id, -coins, 0 from items where reservation_id is not null
          union all
          select i.client_id, -i.coins, 0 from items i
          where i.lease_id is not null and not exists (select 1 from lease_charged c where c.id = i.lease_id)
          union all
          select client_id, 0, -coins from lease_charged
        ) d group by client_id
      ),
      pool as (
        update coin_pools p set balance = p.balance + c.delta, leased = p.leased + c.leased
        from pool_change c where p.client_id = c.client_id
      ),
      client as (
        update clients c set requests = c.requests + a.n, input_tokens = c.input_tokens + a.input_tokens,
          output_tokens = c.output_tokens + a.output_tokens, coins_spent = c.coins_spent + a.coins,
          audio_seconds = c.audio_seconds + a.audio_seconds, last_used_at = greatest(c.last_used_at, a.at)
        from (select client_id, count(*) as n, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
                     sum(coins) as coins, sum(audio_seconds) as audio_seconds, max(at) as at
              from items group by client_id) a
        where c.id = a.client_id
      ),
      api_key as (
        update api_keys k set requests = k.requests + a.n, input_tokens = k.input_tokens + a.input_tokens,
          output_tokens = k.output_tokens + a.output_tokens, coins_spent = k.coins_spent + a.coins,
          audio_seconds = k.audio_seconds + a.audio_seconds, last_used_at = greatest(k.last_used_at, a.at)
        from (select key_id, count(*) as n, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
                     sum(coins) as coins, sum(audio_seconds) as audio_seconds, max(at) as at
              from items where key_id is not null group by key_id) a
        where k.id = a.key_id
      ),
      per_model as (
        insert into client_model_usage as u (client_id, model, requests, input_tokens, output_tokens, coins_spent,
          audio_seconds, last_used_at)
        select client_id, model, count(*), sum(input_tokens), sum(output_tokens), sum(coins), sum(audio_seconds), max(at)
        from items group by client_id, model
        on conflict (client_id, model) do update set requests = u.requests + excluded.requests,
          input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
          coins_spent = u.coins_spent + excluded.coins_spent, audio_seconds = u.audio_seconds + excluded.audio_seconds,
          last_used_at = greatest(u.last_used_at, excluded.last_used_at)
      ),
      per_day as (
        insert into client_daily_usage as u (client_id, day, model, requests, input_tokens, output_tokens, coins_spent,
          audio_seconds)
        select client_id, (at at time zone 'UTC')::date, model, count(*), sum(input_tokens), sum(output_tokens), sum(coins),
          sum(audio_seconds)
        from items group by client_id, (at at time zone 'UTC')::date, model
        on conflict (client_id, day, model) do update set requests = u.requests + excluded.requests,
          input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
          coins_spent = u.coins_spent + excluded.coins_spent, audio_seconds = u.audio_seconds + excluded.audio_seconds
      )
      select 1`);
  } catch (err) {
    for (const item of todo) clearFinished(item.admission);
    throw err;
  }
  // Committed (by this attempt or an earlier one whose answer was lost): the lease book's memory follows.
  for (const { admission, record } of todo) if (admission.kind === "leased") leaseSettled(admission, record.coins);
}

/** Records one finished request (settleMany of one). A second settle() of the same admission does nothing. */
export async function settle(db: Db, admission: Admission, record: RequestRecord): Promise<void> {
  await settleMany(db, [{ admission, record }]);
}

/** Counts a request refused before the upstream call (it costs nothing and writes no log row). */
export async function recordRefusal(db: Db, clientId: string): Promise<void> {
  await db.execute(sql`update clients set refusals = refusals + 1 where id = ${clientId}`);
}
