/**
 * Demo and benchmark data, generated server-side: users and managers, clients, API keys and a request
 * log whose every counter increment is written by the same statement as the log rows it counts
 * (data-modifying CTEs over `returning`), so the totals agree exactly (SPEC §5 "Accounting", §9).
 * Loaded by ./load.ts; checked by ./verify.ts.
 *
 * Client and key ids are UUIDv7-shaped (time-ordered by the client's creation) and the log is written
 * client by client, so the per-day rollup's primary key grows at its right edge and every client's
 * counters are touched once per batch.
 */
import { sql, type SQL } from "drizzle-orm";
import type { ModelConfig } from "@/lib/config";
import { rows, type Tx } from "@/lib/db/client";

export interface SeedModel {
  name: string;
  /** Coins per million input tokens. */
  inputCostPerMillion: number | string;
  /** Coins per million output tokens. */
  outputCostPerMillion: number | string;
  maxOutputTokens?: number;
  /** Endpoint labels recorded in the log (e.g. the upstream URL). */
  endpoints?: string[];
}

export const DEFAULT_SEED_MODELS: SeedModel[] = [
  { name: "echo", inputCostPerMillion: 0.5, outputCostPerMillion: 1.0, maxOutputTokens: 4096, endpoints: ["builtin:echo"] },
];

/**
 * The models of config.yaml as seed models: the enabled ones (all of them when every one is disabled),
 * with their prices; the built-in echo when the config lists none. Endpoint URLs lose any credentials.
 */
export function seedModelsFromConfig(models: readonly ModelConfig[]): SeedModel[] {
  const enabled = models.filter((m) => !m.disabled);
  const chosen = enabled.length ? enabled : models;
  if (!chosen.length) return DEFAULT_SEED_MODELS;
  return chosen.map((m) => ({
    name: m.name,
    inputCostPerMillion: m.input_cost_per_million,
    outputCostPerMillion: m.output_cost_per_million,
    maxOutputTokens: m.max_output_tokens,
    endpoints: m.endpoints.map((e) => e.url.replace(/\/\/[^/@]*@/, "//")),
  }));
}

const CLIENT_PREFIXES = [
  "research-bot", "data-pipeline", "support-bot", "etl-nightly", "slack-bot", "doc-indexer", "eval-runner",
  "code-review", "chat-frontend", "summarizer", "translation-svc", "ci-runner", "notebook", "classifier",
  "search-api", "rag-service", "email-triage", "ticket-router", "analytics-job", "moderation", "transcriber",
  "discord-bot", "web-crawler", "qa-bot", "reporting", "batch-infer", "teams-bot", "agent-sandbox",
  "embedding-sync", "helpdesk-bot", "grading-bot", "lab-assistant", "course-helper", "survey-coder",
  "ocr-pipeline", "data-cleaner", "metrics-bot", "faq-bot", "writing-tutor", "code-assist",
];
const FIRST_NAMES = [
  "Ada", "Alan", "Amara", "Ana", "Ben", "Carla", "Chen", "Daniel", "Dmitri", "Elena", "Emma", "Farah", "Felix",
  "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Julia", "Kai", "Kenji", "Laura", "Leo", "Lina", "Luca",
  "Maya", "Mateo", "Mei", "Nadia", "Noah", "Nora", "Omar", "Priya", "Rafael", "Rosa", "Sam", "Sara", "Sofia",
  "Tariq", "Theo", "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe", "Zara",
];
const LAST_NAMES = [
  "Adams", "Ahmed", "Alvarez", "Baker", "Becker", "Brown", "Chen", "Costa", "Dubois", "Evans", "Fischer",
  "Garcia", "Gupta", "Hansen", "Hughes", "Ivanova", "Jensen", "Kim", "Kowalski", "Lee", "Lopez", "Martin",
  "Meyer", "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Perez", "Rossi",
  "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Tran", "Turner", "Wagner",
  "Walker", "Wang", "Weber", "Wilson", "Young", "Zhang",
];
const KEY_NAMES = ["production", "staging", "ci-runner", "development", "batch", "notebook", "analytics", "backup"];

const HISTORY_DAYS = 540;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A multiplier coprime to n: `i ↦ i·a mod n` scrambles client numbers without collisions. */
function scrambler(n: number): number {
  let a = 7919;
  while (gcd(a, n) !== 1) a += 2;
  return a % Math.max(n, 1) || 1;
}

const int = (n: number) => sql.raw(String(Math.trunc(n)));
const text = (s: string) => sql`${s}::text`;
const list = (items: string[]) => sql`string_to_array(${items.join(",")}::text, ',')`;

/** UUIDv7 layout from a 12-hex-digit millisecond prefix and a 3-hex-digit sub-sequence. */
const uuid7 = (msHex: SQL, seqHex: SQL) =>
  sql`(${msHex} || '7' || ${seqHex} || substr('89ab', 1 + floor(random() * 4)::int, 1) || substr(md5(random()::text), 1, 15))::uuid`;

/** A standard normal variate from two uniform ones (Box–Muller). */
const normal = (u1: SQL, u2: SQL) => sql`(sqrt(-2 * ln(1 - ${u1})) * cos(2 * pi() * ${u2}))`;

export async function one<T>(tx: Tx, query: SQL): Promise<T> {
  const [row] = await rows<T>(tx, query);
  if (!row) throw new Error("seed: query returned no row");
  return row;
}

export async function seedUsers(tx: Tx, adminEmail: string, managerUsers: number): Promise<string> {
  const admin = await one<{ id: string }>(
    tx,
    sql`insert into users (email, name, created_at)
        values (lower(${adminEmail}::text), 'Ada Admin', now() - interval '${int(HISTORY_DAYS + 1)} days')
        on conflict (email) do update set name = coalesce(users.name, excluded.name)
        returning id`,
  );
  const nf = FIRST_NAMES.length;
  const combos = nf * LAST_NAMES.length;
  await tx.execute(sql`create temp table _seed_managers (idx int primary key, id uuid not null) on commit drop`);
  // Every first/last pair once (scrambled), then again with a number: jane.doe@, then jane.doe2@.
  await tx.execute(sql`
    with src as (
      select g, (((g - 1) % ${int(combos)}) * ${int(scrambler(combos))}) % ${int(combos)} as h,
             case when g > ${int(combos)} then ((g - 1) / ${int(combos)} + 1)::text else '' end as sfx
      from generate_series(1, ${int(managerUsers)}) g
    ), named as (
      select (${list(FIRST_NAMES)})[1 + h % ${int(nf)}] as first, (${list(LAST_NAMES)})[1 + h / ${int(nf)}] as last, sfx
      from src
    ), ins as (
      insert into users (email, name, created_at, last_sign_in_at)
      select lower(first || '.' || last || sfx) || '@example.com', first || ' ' || last,
             now() - interval '${int(HISTORY_DAYS)} days' * random(), now() - interval '30 days' * random()
      from named
      on conflict (email) do update set name = coalesce(users.name, excluded.name)
      returning id, email
    )
    insert into _seed_managers (idx, id) select row_number() over (order by email), id from ins`);
  return admin.id;
}

export async function seedModels(tx: Tx, models: SeedModel[]): Promise<void> {
  await tx.execute(sql`
    create temp table _seed_models (
      idx int primary key, name text not null, in_price numeric not null, out_price numeric not null,
      max_out int not null, endpoints text[] not null, lo float8 not null
    ) on commit drop`);
  // Popularity falls with position (Zipf-like); `lo` is the model's lower bound on [0, 1) for width_bucket.
  const weights = models.map((_, i) => 1 / Math.pow(i + 1, 1.2));
  const sum = weights.reduce((a, b) => a + b, 0);
  let lo = 0;
  for (const [i, m] of models.entries()) {
    const endpoints = m.endpoints?.length ? m.endpoints : [null];
    await tx.execute(sql`
      insert into _seed_models values (
        ${int(i + 1)}, ${m.name}::text, ${String(m.inputCostPerMillion)}::numeric, ${String(m.outputCostPerMillion)}::numeric,
        ${int(m.maxOutputTokens ?? 4096)}, array(select json_array_elements_text(${JSON.stringify(endpoints)}::json)), ${String(lo)}::float8)`);
    lo += (weights[i] ?? 0) / sum;
  }
}

const modelBucket = (u: SQL) => sql`width_bucket(${u}, (select array_agg(lo order by idx) from _seed_models))`;

export async function seedClients(tx: Tx, o: { n: number; days: number; total: number; adminId: string }): Promise<void> {
  const history = Math.max(HISTORY_DAYS, o.days + 60) * 86_400;
  const p = CLIENT_PREFIXES.length;
  const width = Math.max(4, String(Math.ceil(o.n / p)).length);
  await tx.execute(sql`
    create temp table _seed_clients (
      seq int primary key, id uuid not null, name text not null, created_at timestamptz not null,
      window_start timestamptz not null, weight float8 not null, fav int not null, managers int not null,
      deactivate boolean not null, n bigint not null default 0, start bigint not null default 0, key_ids uuid[]
    ) on commit drop`);
  // Clients are created evenly over the history (so ids follow seq); a few are idle; usage is log-normal.
  await tx.execute(sql`
    insert into _seed_clients (seq, id, name, created_at, window_start, weight, fav, managers, deactivate)
    select g, ${uuid7(sql`lpad(to_hex((extract(epoch from ts) * 1000)::bigint), 12, '0')`, sql`substr(md5(random()::text), 1, 3)`)},
           (${list(CLIENT_PREFIXES)})[1 + pi % ${int(p)}] || '-' || lpad((pi / ${int(p)} + 1)::text, ${int(width)}, '0'),
           ts, greatest(ts, now() - interval '${int(o.days)} days'),
           case when g > 1 and r_idle < 0.08 then 0 else exp(1.5 * ${normal(sql`u1`, sql`u2`)}) end,
           ${modelBucket(sql`r_fav`)},
           case when r_m < 0.15 then 0 when r_m < 0.55 then 1 when r_m < 0.85 then 2 else 3 end,
           r_d < 0.03
    from (
      select g, ((g - 1)::bigint * ${int(scrambler(o.n))}) % ${int(o.n)} as pi,
             now() - make_interval(secs => ${int(history)}) + make_interval(secs => (g - 1 + 0.9 * random()) * ${int(history)} / ${int(o.n)}) as ts,
             random() as r_idle, random() as u1, random() as u2, random() as r_fav, random() as r_m, random() as r_d
      from generate_series(1, ${int(o.n)}) g
      offset 0
    ) s`);
  // Exactly `total` requests: floor of each client's share, the remainder to the largest fractions.
  await tx.execute(sql`
    with tot as (select sum(weight) as s from _seed_clients),
    share as (select seq, ${int(o.total)} * weight / tot.s as x from _seed_clients, tot),
    fl as (select seq, floor(x)::bigint as n0, x - floor(x) as frac from share),
    rem as (select ${int(o.total)} - coalesce(sum(n0), 0) as r from fl),
    ranked as (select seq, n0 + case when row_number() over (order by frac desc, seq) <= (select r from rem) then 1 else 0 end as n from fl),
    cum as (select seq, n, sum(n) over (order by seq) - n as start from ranked)
    update _seed_clients c set n = cum.n, start = cum.start from cum where c.seq = cum.seq`);
  await tx.execute(sql`
    insert into clients (id, name, created_at, created_by)
    select id, name, created_at, ${o.adminId}::uuid from _seed_clients order by seq`);
}

export async function seedKeys(tx: Tx, perClient: number, adminId: string): Promise<number> {
  if (perClient === 0) return 0;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // Key ids share their client's time prefix, so they sort with it (see the module comment).
  const res = await one<{ n: number }>(
    tx,
    sql`
    with ins as (
      insert into api_keys (id, client_id, name, key_hash, hint, created_at, created_by)
      select ${uuid7(sql`substr(replace(c.id::text, '-', ''), 1, 12)`, sql`lpad(to_hex(j), 3, '0')`)}, c.id,
             (${list(KEY_NAMES)})[1 + (j - 1) % ${int(KEY_NAMES.length)}] || case when j > ${int(KEY_NAMES.length)} then '-' || ((j - 1) / ${int(KEY_NAMES.length)} + 1) else '' end,
             md5(random()::text || c.seq || '.' || j) || md5(j || '.' || random()::text || c.seq),
             'sk_' || left(s.chars, 4) || '…' || right(s.chars, 4),
             least(now(), c.created_at + interval '90 seconds' * j), ${adminId}::uuid
      from _seed_clients c
      cross join generate_series(1, ${int(perClient)}) j
      cross join lateral (
        select string_agg(substr(${text(alphabet)}, 1 + floor(random() * 62)::int, 1), '') as chars
        from generate_series(1, 8) where j > 0 and c.seq > 0
      ) s
      order by c.seq, j
      returning id, client_id
    ), grouped as (
      select client_id, array_agg(id order by id) as ids from ins group by client_id
    ), upd as (
      update _seed_clients c set key_ids = grouped.ids from grouped where c.id = grouped.client_id
    )
    select count(*)::int as n from ins`,
  );
  return Number(res.n);
}

export async function seedManagers(tx: Tx, managerUsers: number, adminId: string): Promise<void> {
  await tx.execute(sql`
    insert into client_managers (client_id, user_id, added_at, added_by)
    select pick.client_id, m.id, pick.added_at, ${adminId}::uuid
    from (
      select c.id as client_id, least(now(), c.created_at + interval '1 hour' * k) as added_at,
             1 + floor(random() * ${int(managerUsers)})::int as midx
      from _seed_clients c cross join lateral generate_series(1, c.managers) k
      offset 0
    ) pick
    join _seed_managers m on m.idx = pick.midx
    on conflict do nothing`);
  await tx.execute(sql`
    update clients c set manager_count = x.n
    from (select client_id, count(*)::int as n from client_managers group by client_id) x
    where c.id = x.client_id`);
}

/**
 * Log rows [from, to) of the global request numbering, plus the counter increments they imply.
 * Coins are exact: numeric arithmetic on the model prices, rounded to 6 places per request.
 */
export function logBatch(from: number, to: number): SQL {
  return sql`
    with ins as (
      insert into request_log (created_at, client_id, key_id, model, endpoint, status, input_tokens, output_tokens,
                               coins, duration_ms, ttft_ms, streamed, usage_estimated, error_code)
      select created_at, client_id, key_id, name, endpoints[1 + floor(random() * cardinality(endpoints))::int], status,
             input_tokens, output_tokens,
             round((input_tokens::numeric * in_price + output_tokens::numeric * out_price) / 1000000, 6),
             case when status = 200 then 150 + (output_tokens * 12 + input_tokens * 0.05) * (0.6 + 0.8 * u_dur)
                  else 40 + 400 * u_dur end::int,
             case when streamed then (80 + input_tokens * 0.02 + 300 * u_dur)::int end,
             streamed, streamed and status = 200 and u_est < 0.01,
             case status when 502 then 'upstream_error' when 400 then 'upstream_bad_request' end
      from (
        select r.*, m.name, m.endpoints, m.in_price, m.out_price,
               case when status = 200 then greatest(1, least(32000, floor(exp(ln(350) + 1.1 * ${normal(sql`a1`, sql`a2`)}))))::int else 0 end as input_tokens,
               case when status = 200 then greatest(1, least(m.max_out, floor(exp(ln(220) + 0.9 * ${normal(sql`a3`, sql`a4`)}))))::int else 0 end as output_tokens
        from (
          select p.id as client_id,
                 p.key_ids[1 + floor(cardinality(p.key_ids) * power(random(), 2))::int] as key_id,
                 now() - (now() - p.window_start) * (1 - sqrt(random())) as created_at,
                 case when random() < 0.7 then p.fav else ${modelBucket(sql`random()`)} end as midx,
                 case when u_status < 0.975 then 200 when u_status < 0.985 then 400 else 502 end as status,
                 random() < 0.6 as streamed,
                 random() as a1, random() as a2, random() as a3, random() as a4, random() as u_dur, random() as u_est
          from _seed_plan p
          cross join lateral generate_series(greatest(p.start, ${int(from)}), least(p.start + p.n, ${int(to)}) - 1) g
          cross join lateral (select random() as u_status where g >= 0) st
          where p.start < ${int(to)} and p.start + p.n > ${int(from)}
          offset 0
        ) r
        join _seed_models m on m.idx = r.midx
        offset 0
      ) t
      returning created_at, client_id, key_id, model, input_tokens, output_tokens, coins
    ), by_client as (
      update clients c set requests = c.requests + a.n, input_tokens = c.input_tokens + a.i,
             output_tokens = c.output_tokens + a.o, coins_spent = c.coins_spent + a.coins,
             last_used_at = greatest(c.last_used_at, a.last)
      from (select client_id, count(*) as n, sum(input_tokens) as i, sum(output_tokens) as o, sum(coins) as coins,
                   max(created_at) as last
            from ins group by client_id) a
      where c.id = a.client_id
    ), by_key as (
      update api_keys k set requests = k.requests + a.n, input_tokens = k.input_tokens + a.i,
             output_tokens = k.output_tokens + a.o, coins_spent = k.coins_spent + a.coins,
             last_used_at = greatest(k.last_used_at, a.last)
      from (select key_id, count(*) as n, sum(input_tokens) as i, sum(output_tokens) as o, sum(coins) as coins,
                   max(created_at) as last
            from ins where key_id is not null group by key_id) a
      where k.id = a.key_id
    ), by_model as (
      insert into client_model_usage as u (client_id, model, requests, input_tokens, output_tokens, coins_spent, last_used_at)
      select client_id, model, count(*), sum(input_tokens), sum(output_tokens), sum(coins), max(created_at)
      from ins group by client_id, model
      on conflict (client_id, model) do update set requests = u.requests + excluded.requests,
        input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
        coins_spent = u.coins_spent + excluded.coins_spent, last_used_at = greatest(u.last_used_at, excluded.last_used_at)
    ), by_day as (
      insert into client_daily_usage as u (client_id, day, model, requests, input_tokens, output_tokens, coins_spent)
      select client_id, (created_at at time zone 'UTC')::date, model, count(*), sum(input_tokens), sum(output_tokens), sum(coins)
      from ins group by 1, 2, 3 order by 1, 2, 3
      on conflict (client_id, day, model) do update set requests = u.requests + excluded.requests,
        input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
        coins_spent = u.coins_spent + excluded.coins_spent
    )
    select count(*)::int as n from ins`;
}

/** A few clients deactivated and a few spare keys revoked, each after its last use (history is kept). */
export async function finishClients(tx: Tx, adminId: string): Promise<void> {
  await tx.execute(sql`
    update clients c set active = false,
           deactivated_at = least(now(), coalesce(c.last_used_at, c.created_at) + interval '2 hours')
    from _seed_clients s where s.id = c.id and s.deactivate`);
  await tx.execute(sql`
    update api_keys k set revoked_at = least(now(), coalesce(k.last_used_at, k.created_at) + interval '3 hours'),
           revoked_by = ${adminId}::uuid
    from _seed_clients s
    where s.id = k.client_id and k.id <> s.key_ids[1] and random() < 0.08`);
}
