/**
 * Recent requests (issue 11, item 4) and the CSV exports (item 5): the section's pages, filters and
 * cursors over the request log, and the exported files checked cell by cell against the log, with the
 * route's authorization (other clients' ids included).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rows, type Db } from "@/lib/db/client";
import { requestLog } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import {
  formatCursor,
  keyFilterOptions,
  listRecentRequests,
  parseCursor,
  parseRecentRequestParams,
  RECENT_REQUESTS_PAGE,
  type RecentRequestParams,
} from "@/lib/clients/recent-requests";
import { csvLines, exportCsv, exportFileName, REQUEST_BATCH, REQUEST_COLUMNS, spreadsheetSafe, USAGE_COLUMNS } from "@/lib/exports/csv";
import { parseExportRange } from "@/lib/exports/range";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";
import { insertKey } from "../helpers/keys";

process.env.LUMEN_SECRET = "usage-views-secret-0123456789-abcdefghij";

const DAY = 86_400_000;
const T0 = Date.parse("2026-02-01T00:00:00Z");

/** A strict RFC 4180 reader for the tests: CRLF records, quoted fields with doubled quotes. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let field = "";
  let record: string[] = [];
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (field += c), i++;
    } else if (c === '"' && field === "") (quoted = true), i++;
    else if (c === ",") record.push(field), (field = ""), i++;
    else if (c === "\r" && text[i + 1] === "\n") record.push(field), out.push(record), (record = []), (field = ""), (i += 2);
    else if (c === "\n" || c === "\r" || c === '"') throw new Error(`bare ${JSON.stringify(c)} at ${i}: not RFC 4180`);
    else (field += c), i++;
  }
  if (field !== "" || record.length > 0) throw new Error("the last record does not end with CRLF");
  return out;
}

describe.each(backends())("recent requests and exports on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let { admin, manager, otherManager, plain } = {} as Roles;
  let clientId: string;
  let otherId: string;
  const keyIds: Record<"prod" | "ci" | "odd", string> = { prod: "", ci: "", odd: "" };
  let otherKey = "";
  let logged: Array<typeof requestLog.$inferSelect> = [];

  beforeAll(async () => {
    clientId = (await insertClient(db, "research-bot")).id;
    otherId = (await insertClient(db, "other-bot")).id;
    ({ admin, manager, otherManager, plain } = await setUpRoles(db, { manages: [clientId, otherId] }));
    keyIds.prod = (await insertKey(db, clientId, "production")).row.id;
    keyIds.ci = (await insertKey(db, clientId, "ci-runner", { revokedAt: new Date(T0 + 5 * DAY) })).row.id;
    // A name a spreadsheet would run as a formula, with a comma and a quote for the quoting rules.
    keyIds.odd = (await insertKey(db, clientId, '=HYPERLINK("x"), "quoted"')).row.id;
    otherKey = (await insertKey(db, otherId, "production")).row.id;

    // 130 rows of research-bot over 13 days (10 a day), every 7th an error; 12 share one instant in pairs;
    // 20 rows of other-bot at the same times.
    const values: Array<typeof requestLog.$inferInsert> = [];
    for (let i = 0; i < 130; i++) {
      const at = new Date(T0 + Math.floor(i / 10) * DAY + (i % 10) * 3_600_000 + (i < 12 ? 0 : i * 1000) + 0.123);
      const key = i % 3 === 0 ? keyIds.ci : i % 3 === 1 ? keyIds.prod : keyIds.odd;
      values.push({
        createdAt: i < 12 ? new Date(T0 + Math.floor(i / 2) * 60_000) : at,
        clientId,
        keyId: key,
        model: i % 2 ? "echo" : "llama/3.1",
        status: i % 7 === 0 ? (i % 14 === 0 ? 502 : 429) : 200,
        errorCode: i % 7 === 0 ? (i % 14 === 0 ? "upstream_error" : null) : null,
        inputTokens: 10 + i,
        outputTokens: i % 7 === 0 ? 0 : 2 * i,
        coins: `0.${String(1000 + i).padStart(6, "0")}`,
        durationMs: 100 + i,
        ttftMs: i % 2 ? 20 + i : null,
        streamed: i % 2 === 1,
        usageEstimated: i % 5 === 0,
        requestId: i === 1 ? '+cmd|" ,x' : `req-${i}`,
      });
    }
    for (let i = 0; i < 20; i++) {
      values.push({ createdAt: new Date(T0 + i * 3_600_000), clientId: otherId, keyId: otherKey, model: "echo", status: 200, requestId: `other-${i}` });
    }
    await db.insert(requestLog).values(values);
    logged = await db.select().from(requestLog).where(sql`${requestLog.clientId} = ${clientId}`);
  });

  /** The log as the section must order it: newest first, ties by id. */
  const expected = (filter: (r: (typeof logged)[number]) => boolean = () => true) =>
    logged.filter(filter).sort((a, b) => +b.createdAt - +a.createdAt || b.id - a.id);

  /** Every page from the newest, following "Older". */
  async function walk(params: Omit<RecentRequestParams, "before" | "after">) {
    const ids: number[] = [];
    let before: string | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const page = await listRecentRequests(db, clientId, { ...params, before: before ? parseCursor(before) : undefined });
      expect(page.rows.length).toBeLessThanOrEqual(RECENT_REQUESTS_PAGE);
      ids.push(...page.rows.map((r) => r.id));
      if (!page.older) return ids;
      before = page.older;
    }
    throw new Error("did not end");
  }

  describe("recent requests", () => {
    it("pages through the whole log newest first, 50 a page, ties included, other clients never", async () => {
      expect(await walk({ errorsOnly: false, keyId: null })).toEqual(expected().map((r) => r.id));
      const first = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null });
      expect(first.rows).toHaveLength(50);
      expect(first.newer).toBeNull();
      const top = first.rows[0]!;
      const row = expected()[0]!;
      expect(top).toMatchObject({
        id: row.id,
        keyId: row.keyId,
        keyName: ({ [keyIds.prod]: "production", [keyIds.ci]: "ci-runner", [keyIds.odd]: '=HYPERLINK("x"), "quoted"' } as Record<string, string>)[row.keyId!],
        model: row.model,
        status: row.status,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        coins: row.coins,
        durationMs: row.durationMs,
        ttftMs: row.ttftMs,
        streamed: row.streamed,
        usageEstimated: row.usageEstimated,
        requestId: row.requestId,
      });
    });

    it("Newer walks back exactly the way Older came", async () => {
      const p1 = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null });
      const p2 = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null, before: parseCursor(p1.older) });
      const p3 = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null, before: parseCursor(p2.older) });
      expect(p3.rows).toHaveLength(30);
      expect(p3.older).toBeNull();
      const back2 = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null, after: parseCursor(p3.newer) });
      expect(back2.rows.map((r) => r.id)).toEqual(p2.rows.map((r) => r.id));
      const back1 = await listRecentRequests(db, clientId, { errorsOnly: false, keyId: null, after: parseCursor(back2.newer) });
      expect(back1.rows.map((r) => r.id)).toEqual(p1.rows.map((r) => r.id));
      expect(back1.newer).toBeNull();
    });

    it("errors only and by key, alone and together", async () => {
      expect(await walk({ errorsOnly: true, keyId: null })).toEqual(expected((r) => r.status >= 400).map((r) => r.id));
      expect(await walk({ errorsOnly: false, keyId: keyIds.prod })).toEqual(expected((r) => r.keyId === keyIds.prod).map((r) => r.id));
      expect(await walk({ errorsOnly: true, keyId: keyIds.ci })).toEqual(
        expected((r) => r.keyId === keyIds.ci && r.status >= 400).map((r) => r.id),
      );
      // another client's key shows nothing of that client
      expect(await walk({ errorsOnly: false, keyId: otherKey })).toEqual([]);
    });

    it("reads its state from the URL; anything malformed is the default view", () => {
      const cursor = "2026-02-01T00:00:00.000123Z~42";
      expect(parseRecentRequestParams({ requests_errors: "1", requests_key: keyIds.prod.toUpperCase(), requests_before: cursor })).toEqual({
        errorsOnly: true,
        keyId: keyIds.prod,
        before: { at: "2026-02-01T00:00:00.000123Z", id: 42 },
        after: undefined,
      });
      expect(formatCursor(parseCursor(cursor)!)).toBe(cursor);
      for (const bad of [
        "x",
        "2026-02-01~1",
        "2026-02-01T00:00:00.000123Z~-1",
        "2026-13-45T00:00:00.000000Z~1",
        "2026-02-30T00:00:00.000000Z~1",
        "2026-02-01T24:00:00.000000Z~1",
        "0000-01-01T00:00:00.000000Z~1",
        "2026-02-01T00:00:00.000123Z~1'; drop",
      ]) {
        expect(parseCursor(bad)).toBeUndefined();
      }
      expect(parseRecentRequestParams({ requests_errors: "yes", requests_key: "'; drop table", requests_after: ["x", "y"] })).toEqual({
        errorsOnly: false,
        keyId: null,
        before: undefined,
        after: undefined,
      });
    });

    it("offers the client's keys for the filter, usable ones first", async () => {
      expect((await keyFilterOptions(db, clientId)).map((k) => [k.name, k.inactive])).toEqual([
        ['=HYPERLINK("x"), "quoted"', false],
        ["production", false],
        ["ci-runner", true],
      ]);
    });
  });

  describe("CSV exports", () => {
    const range = { from: "2026-02-01", to: "2026-02-13" };
    const csv = async (viewer: Viewer, kind: "usage" | "requests", query: { from?: string; to?: string } = range, client = clientId) => {
      const res = await exportCsv(db, viewer, client, kind, query);
      return { res, text: await res.text() };
    };

    it("the request log, cell by cell, in time order, with RFC 4180 quoting", async () => {
      const { res, text } = await csv(manager, "requests");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
      expect(res.headers.get("content-disposition")).toBe(
        `attachment; filename="lumen-research-bot-requests-2026-02-01_2026-02-13.csv"; filename*=UTF-8''lumen-research-bot-requests-2026-02-01_2026-02-13.csv`,
      );
      const records = parseCsv(text);
      expect(records[0]).toEqual(REQUEST_COLUMNS);
      const log = [...logged].sort((a, b) => +a.createdAt - +b.createdAt || a.id - b.id);
      expect(records).toHaveLength(log.length + 1);
      const keyName = (id: string | null) => (id === keyIds.prod ? "production" : id === keyIds.ci ? "ci-runner" : `'=HYPERLINK("x"), "quoted"`);
      log.forEach((r, i) => {
        expect(records[i + 1]).toEqual([
          r.createdAt.toISOString().replace("Z", "000Z"),
          r.requestId === '+cmd|" ,x' ? `'+cmd|" ,x` : r.requestId,
          keyName(r.keyId),
          r.keyId,
          r.model,
          String(r.status),
          r.errorCode ?? "",
          String(r.inputTokens),
          String(r.outputTokens),
          r.coins,
          String(r.durationMs),
          r.ttftMs === null ? "" : String(r.ttftMs),
          String(r.streamed),
          String(r.usageEstimated),
        ]);
      });
      // the raw text: CRLF, a quoted field with doubled quotes
      expect(text.startsWith("time,request_id,key,key_id,model,status,")).toBe(true);
      expect(text).toContain(`"'=HYPERLINK(""x""), ""quoted"""`);
      expect(text.endsWith("\r\n")).toBe(true);
    });

    it("daily usage per model and key equals the log's sums", async () => {
      const { text } = await csv(admin, "usage");
      const records = parseCsv(text);
      expect(records[0]).toEqual(USAGE_COLUMNS);
      const sums = new Map<string, { n: number; i: number; o: number; c: number }>();
      for (const r of logged) {
        const k = `${r.createdAt.toISOString().slice(0, 10)}|${r.model}|${r.keyId}`;
        const s = sums.get(k) ?? { n: 0, i: 0, o: 0, c: 0 };
        s.n++, (s.i += r.inputTokens), (s.o += r.outputTokens), (s.c += Math.round(Number(r.coins) * 1e6));
        sums.set(k, s);
      }
      expect(records).toHaveLength(sums.size + 1);
      for (const [date, model, , keyId, n, i, o, c] of records.slice(1)) {
        const s = sums.get(`${date}|${model}|${keyId}`)!;
        expect(s, `${date} ${model} ${keyId}`).toBeDefined();
        expect([n, i, o, c]).toEqual([String(s.n), String(s.i), String(s.o), (s.c / 1e6).toFixed(6)]);
      }
      // ordered by day, then model
      const order = records.slice(1).map((r) => `${r[0]}|${r[1]}`);
      expect(order).toEqual([...order].sort());
    });

    it("the range is inclusive UTC days; an empty range is just the header", async () => {
      const one = parseCsv((await csv(manager, "requests", { from: "2026-02-03", to: "2026-02-03" })).text);
      expect(one.slice(1).map((r) => r[0]!.slice(0, 10))).toEqual(Array(10).fill("2026-02-03"));
      expect((await csv(manager, "usage", { from: "2027-01-01", to: "2027-01-31" })).text).toBe(`${USAGE_COLUMNS.join(",")}\r\n`);
      expect((await csv(manager, "requests", { from: "2025-01-01", to: "2025-01-31" })).text).toBe(`${REQUEST_COLUMNS.join(",")}\r\n`);
    });

    it("streams the log in batches: more rows than one batch come out whole and in order", async () => {
      const big = (await insertClient(db, "big-bot")).id;
      const n = REQUEST_BATCH + 1_234;
      // every 1,000 rows share an instant, so the keyset must settle ties by id across batch edges
      await db.execute(
        sql`insert into request_log (created_at, client_id, model, status, request_id)
            select timestamptz '2026-03-01T00:00:00Z' + (g / 1000) * interval '1 second', ${big}, 'echo', 200, 'r' || g
            from generate_series(0, ${n - 1}) g`,
      );
      const records = parseCsv((await csv(admin, "requests", { from: "2026-03-01", to: "2026-03-01" }, big)).text);
      expect(records.slice(1).map((r) => r[1])).toEqual(Array.from({ length: n }, (_, g) => `r${g}`));
    });

    it("is authorized like the page: admins and the client's managers; 404 for everyone else and for unknown ids", async () => {
      for (const v of [admin, manager]) expect((await exportCsv(db, v, clientId, "usage", range)).status).toBe(200);
      for (const kind of ["usage", "requests"] as const) {
        for (const [v, id] of [
          [otherManager, clientId],
          [plain, clientId],
          [manager, otherId],
          [manager, "00000000-0000-4000-8000-000000000000"],
          [admin, "00000000-0000-4000-8000-000000000000"],
          [admin, "not-a-uuid"],
          [manager, "'; drop table request_log; --"],
        ] as const) {
          const res = await exportCsv(db, v, id, kind, range);
          expect(res.status, `${v.user.email} ${id}`).toBe(404);
          expect(await res.text()).toBe("Not found.");
        }
      }
      // the other manager sees only their own client's rows
      const theirs = parseCsv((await csv(otherManager, "requests", range, otherId)).text);
      expect(theirs.slice(1).map((r) => r[1])).toEqual(Array.from({ length: 20 }, (_, i) => `other-${i}`));
    });

    it("a bad range is 400 with the reason, never a 500", async () => {
      for (const [query, reason] of [
        [{}, "Choose the first day. Choose the last day."],
        [{ from: "2026-02-10", to: "2026-02-01" }, "The last day must not be before the first day."],
        [{ from: "2026-02-30", to: "2026-03-01" }, "Enter the first day as YYYY-MM-DD."],
        [{ from: "2020-01-01", to: "2026-01-01" }, "Choose at most 731 days (about two years) per file."],
        [{ from: "'; drop", to: "x".repeat(5000) }, "Enter the first day as YYYY-MM-DD. Enter the last day as YYYY-MM-DD."],
        [{ from: "0000-01-01", to: "0001-06-01" }, "Enter the first day as YYYY-MM-DD. Enter the last day as YYYY-MM-DD."],
      ] as const) {
        const res = await exportCsv(db, manager, clientId, "requests", query);
        expect(res.status).toBe(400);
        expect(await res.text()).toBe(reason);
      }
      // the forbidden answer comes before the range check: nothing is revealed
      expect((await exportCsv(db, plain, clientId, "requests", {})).status).toBe(404);
    });
  });
});

describe("CSV helpers", () => {
  it("spreadsheetSafe defuses formulas and leaves other text alone", () => {
    for (const s of ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"]) expect(spreadsheetSafe(s)).toBe(`'${s}`);
    for (const s of ["production", "1-2", "a=b", "", "sk_x"]) expect(spreadsheetSafe(s)).toBe(s);
    expect(spreadsheetSafe(null)).toBe("");
  });

  it("csvLines quotes what RFC 4180 requires, CRLF between records", () => {
    expect(csvLines([["a,b", 'say "hi"', "line\nbreak", "cr\rx", "plain", "", null, 5, true]])).toBe(
      `"a,b","say ""hi""","line\nbreak","cr\rx",plain,,,5,true\r\n`,
    );
  });

  it("exportFileName and parseExportRange", () => {
    expect(exportFileName("research-bot", "usage", { from: "2026-01-01", to: "2026-01-31" })).toBe("lumen-research-bot-usage-2026-01-01_2026-01-31.csv");
    expect(exportFileName("a b/c", "requests", { from: "x", to: "y" })).toBe("lumen-a_b_c-requests-x_y.csv");
    const r = parseExportRange("2024-02-28", "2024-03-01");
    expect(r).toEqual({
      ok: true,
      range: { from: "2024-02-28", to: "2024-03-01", start: new Date("2024-02-28T00:00:00Z"), end: new Date("2024-03-02T00:00:00Z"), days: 3 },
    });
    expect(parseExportRange("2024-01-01", "2025-12-31")).toMatchObject({ ok: true, range: { days: 731 } });
    expect(parseExportRange("2024-01-01", "2026-01-01")).toMatchObject({ ok: false });
  });
});
