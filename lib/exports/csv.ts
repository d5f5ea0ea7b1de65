/**
 * CSV exports of a client's usage (route handlers under /clients/[id]/export/): daily usage per model
 * and key, and the raw request log, for a range of UTC days.
 *
 * Streamed: the response body pulls one batch at a time from the database (a week of daily rows, or
 * 5,000 log rows by keyset on (created_at, id)), so a year of millions of rows never sits in memory and
 * a slow download slows the queries instead of piling up rows. Every batch is an index range scan on
 * (client_id, created_at).
 *
 * RFC 4180: CRLF line ends, fields with a comma, a quote or a line break quoted, quotes doubled
 * (csv-stringify). Text a spreadsheet would run as a formula (a key named "=HYPERLINK(…)", a caller's
 * request id starting with "+") gets a leading apostrophe, as OWASP advises for CSV files opened in Excel.
 */
import { stringify } from "csv-stringify/sync";
import { sql } from "drizzle-orm";
import { rows, type Executor } from "@/lib/db/client";
import type { Viewer } from "@/lib/auth/permissions";
import { findVisibleClient } from "@/lib/clients/queries";
import { errorFields, log } from "@/lib/log";
import { parseExportRange, type ExportRange } from "./range";

export type ExportKind = "usage" | "requests";

export const USAGE_COLUMNS = ["date", "model", "key", "key_id", "requests", "input_tokens", "output_tokens", "coins"];
export const REQUEST_COLUMNS = [
  "time",
  "request_id",
  "key",
  "key_id",
  "model",
  "status",
  "error_code",
  "input_tokens",
  "output_tokens",
  "coins",
  "duration_ms",
  "ttft_ms",
  "streamed",
  "usage_estimated",
];

const DAY_MS = 86_400_000;
const USAGE_CHUNK_DAYS = 7;
export const REQUEST_BATCH = 5_000;

type Cell = string | number | boolean | null;

/** A text cell a spreadsheet would evaluate (=, +, -, @, tab, CR first) is prefixed with an apostrophe. */
export function spreadsheetSafe(text: string | null): string {
  if (text === null) return "";
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** RFC 4180 lines (CRLF), every field quoted when it holds a comma, a quote or a line break. */
export function csvLines(records: Cell[][]): string {
  return stringify(
    records.map((r) => r.map((c) => (c === null ? "" : String(c)))),
    { record_delimiter: "windows", quoted_match: /[\r\n]/ },
  );
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

/** Daily usage per (day, model, key), a week of days per query, only over days that have requests. */
async function* usageBatches(ex: Executor, clientId: string, range: ExportRange): AsyncGenerator<Cell[][]> {
  const [span] = await rows<{ first: string | null; last: string | null }>(
    ex,
    sql`select to_char(min(created_at) at time zone 'UTC', 'YYYY-MM-DD') as "first",
               to_char(max(created_at) at time zone 'UTC', 'YYYY-MM-DD') as "last"
        from request_log where client_id = ${clientId} and created_at >= ${range.start.toISOString()}::timestamptz
          and created_at < ${range.end.toISOString()}::timestamptz`,
  );
  if (!span?.first || !span.last) return;
  const lastDay = Date.parse(`${span.last}T00:00:00Z`);
  for (let day = Date.parse(`${span.first}T00:00:00Z`); day <= lastDay; day += USAGE_CHUNK_DAYS * DAY_MS) {
    const from = new Date(day).toISOString();
    const to = new Date(Math.min(day + USAGE_CHUNK_DAYS * DAY_MS, +range.end)).toISOString();
    const found = await rows<{
      day: string;
      model: string;
      key: string | null;
      keyId: string | null;
      requests: string;
      inputTokens: string;
      outputTokens: string;
      coins: string;
    }>(
      ex,
      sql`select to_char(d.day, 'YYYY-MM-DD') as "day", d.model, k.name as "key", d.key_id as "keyId",
                 d.requests::text as "requests", d.input_tokens::text as "inputTokens",
                 d.output_tokens::text as "outputTokens", d.coins::text as "coins"
          from (select (created_at at time zone 'UTC')::date as day, model, key_id, count(*) as requests,
                       sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens, sum(coins) as coins
                from request_log
                where client_id = ${clientId} and created_at >= ${from}::timestamptz and created_at < ${to}::timestamptz
                group by 1, 2, 3) d
          left join api_keys k on k.id = d.key_id
          order by d.day, d.model, k.name, d.key_id`,
    );
    if (found.length > 0) {
      yield found.map((r) => [
        r.day,
        spreadsheetSafe(r.model),
        spreadsheetSafe(r.key),
        r.keyId,
        r.requests,
        r.inputTokens,
        r.outputTokens,
        r.coins,
      ]);
    }
  }
}

/** The raw log in time order, REQUEST_BATCH rows per query (keyset: each query starts where the last ended). */
async function* requestBatches(ex: Executor, clientId: string, range: ExportRange, batch = REQUEST_BATCH): AsyncGenerator<Cell[][]> {
  const start = range.start.toISOString();
  const end = range.end.toISOString();
  let after: { at: string; id: string } | null = null;
  for (;;) {
    const page: ReturnType<typeof sql> = after
      ? sql`and l.created_at >= ${after.at}::timestamptz and (l.created_at > ${after.at}::timestamptz or l.id > ${after.id}::bigint)`
      : sql``;
    const found = await rows<{
      time: string;
      id: string;
      requestId: string | null;
      key: string | null;
      keyId: string | null;
      model: string;
      status: number;
      errorCode: string | null;
      inputTokens: number;
      outputTokens: number;
      coins: string;
      durationMs: number;
      ttftMs: number | null;
      streamed: boolean;
      usageEstimated: boolean;
    }>(
      ex,
      sql`select to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "time", l.id::text as "id",
                 l.request_id as "requestId", k.name as "key", l.key_id as "keyId", l.model, l.status,
                 l.error_code as "errorCode", l.input_tokens as "inputTokens", l.output_tokens as "outputTokens",
                 l.coins::text as "coins", l.duration_ms as "durationMs", l.ttft_ms as "ttftMs", l.streamed,
                 l.usage_estimated as "usageEstimated"
          from request_log l left join api_keys k on k.id = l.key_id
          where l.client_id = ${clientId} and l.created_at >= ${start}::timestamptz and l.created_at < ${end}::timestamptz ${page}
          order by l.created_at, l.id
          limit ${batch}`,
    );
    if (found.length === 0) return;
    yield found.map((r) => [
      r.time,
      spreadsheetSafe(r.requestId),
      spreadsheetSafe(r.key),
      r.keyId,
      spreadsheetSafe(r.model),
      r.status,
      spreadsheetSafe(r.errorCode),
      r.inputTokens,
      r.outputTokens,
      r.coins,
      r.durationMs,
      r.ttftMs,
      r.streamed,
      r.usageEstimated,
    ]);
    if (found.length < batch) return;
    const last = found[found.length - 1]!;
    after = { at: last.time, id: last.id };
  }
}

/** A byte stream of the header line and then each batch, pulled one batch at a time. */
function csvStream(header: string[], batches: AsyncGenerator<Cell[][]>, context: Record<string, unknown>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let headerSent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(csvLines([header])));
          return;
        }
        try {
          const next = await batches.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(csvLines(next.value)));
        } catch (err) {
          // The status line is gone already: cutting the body is how the download reports the failure.
          log.error("csv export failed", { ...context, ...errorFields(err) });
          controller.error(new Error("export failed"));
        }
      },
      async cancel() {
        await batches.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

// ---------------------------------------------------------------------------------------------
// The route handlers' work
// ---------------------------------------------------------------------------------------------

const text = (status: number, body: string) =>
  new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });

/** "lumen-research-bot-usage-2026-01-01_2026-01-31.csv"; client names are already file-name safe, but be sure. */
export function exportFileName(clientName: string, kind: ExportKind, range: { from: string; to: string }): string {
  const safe = clientName.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64) || "client";
  return `lumen-${safe}-${kind}-${range.from}_${range.to}.csv`;
}

/**
 * The CSV response for a signed-in viewer (the route redirects signed-out visitors to sign-in first).
 * Authorized as the detail page is: a client the viewer may not see is 404, whether or not it exists.
 * A bad range is 400 with the reason as text; nothing a caller sends produces a 500.
 */
export async function exportCsv(
  ex: Executor,
  viewer: Viewer,
  clientId: string,
  kind: ExportKind,
  query: { from?: string | null; to?: string | null },
): Promise<Response> {
  const client = await findVisibleClient(ex, viewer, clientId);
  if (!client) return text(404, "Not found.");
  const parsed = parseExportRange(query.from, query.to);
  if (!parsed.ok) {
    return text(400, [...(parsed.errors.from ?? []), ...(parsed.errors.to ?? [])].join(" ") || "Choose a date range.");
  }
  const range = parsed.range;
  const context = { clientId, kind, from: range.from, to: range.to };
  const body =
    kind === "usage"
      ? csvStream(USAGE_COLUMNS, usageBatches(ex, client.id, range), context)
      : csvStream(REQUEST_COLUMNS, requestBatches(ex, client.id, range), context);
  const file = exportFileName(client.name, kind, range);
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/csv; charset=utf-8; header=present",
      "content-disposition": `attachment; filename="${file}"; filename*=UTF-8''${encodeURIComponent(file)}`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
