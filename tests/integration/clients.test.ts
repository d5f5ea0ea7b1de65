import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { tempConfigFile } from "../helpers/config-file";
import { backends, useBackend } from "../helpers/backend";
import { clientByName, clientCount, insertClient, makeUser, viewerFor } from "../helpers/fixtures";
import { listClients, findVisibleClient, clientSummary, SEARCH_COUNT_CAP, type ListClientsOptions } from "@/lib/clients/queries";
import { pagingTexts, parseClientListParams, SORT_COLUMNS, type SortColumn } from "@/lib/clients/list-params";
import { createClient } from "@/lib/clients/commands";
import { addManager, removeManager } from "@/lib/clients/managers";
import { canUseClientsSection } from "@/lib/auth/permissions";
import { upsertUser } from "@/lib/auth/users";
import { DomainError } from "@/lib/errors";
import type { Viewer } from "@/lib/auth/permissions";
import { asc, desc, inArray, like, sql, type SQL } from "drizzle-orm";
import { clients } from "@/lib/db/schema";

const day = (n: number) => new Date(Date.UTC(2026, 0, n));

/** The documented order, written out independently of lib/clients/queries.ts: the column, then name. */
function sortedBy(sort: SortColumn, order: string): SQL[] {
  const dir = order === "asc" ? asc : desc;
  const column = {
    name: clients.nameLower,
    managers: clients.managerCount,
    active: clients.active,
    requests: clients.requests,
    tokens: sql`${clients.inputTokens} + ${clients.outputTokens}`,
    coins: clients.coinsSpent,
    created: clients.createdAt,
  }[sort];
  return sort === "name" ? [dir(clients.nameLower)] : [dir(column), asc(clients.nameLower)];
}

describe.each(backends())("clients on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let admin: Viewer;
  let manager: Viewer;
  let other: Viewer;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    admin = await viewerFor(db, "admin@example.com", true);
    manager = await viewerFor(db, "Manager@Example.com", false);
    other = await viewerFor(db, "other@example.com", false);
    const rows: [string, Parameters<typeof insertClient>[2]][] = [
      ["alpha", { requests: 10, input: 100, output: 50, coins: "1.500000", createdAt: day(1) }],
      ["Beta", { requests: 30, input: 10, output: 10, coins: "0.250000", createdAt: day(3) }],
      ["gamma", { requests: 20, input: 1000, output: 0, coins: "12.345678", createdAt: day(2), active: false }],
      ["50%_off", { requests: 0, createdAt: day(4) }],
      ["500off", { requests: 0, createdAt: day(5) }],
      ["x_y", { requests: 5, createdAt: day(6) }],
      ["xzy", { requests: 5, createdAt: day(7) }],
      ["Ärger-bot", { requests: 1, createdAt: day(8) }],
      ["o'brien", { requests: 2, createdAt: day(9) }],
    ];
    for (const [name, usage] of rows) ids[name] = (await insertClient(db, name, usage)).id;
    await addManager(db, admin, ids.alpha!, manager.user.id);
    await addManager(db, admin, ids.gamma!, manager.user.id);
    await addManager(db, admin, ids.gamma!, other.user.id);
    await removeManager(db, admin, ids.gamma!, other.user.id);
  });

  const list = (viewer: Viewer, q: Record<string, string> = {}, opts?: ListClientsOptions) =>
    listClients(db, viewer, parseClientListParams(q), opts);
  const names = async (viewer: Viewer, q: Record<string, string> = {}) => (await list(viewer, q)).rows.map((r) => r.name);

  it("admins see every client, managers only theirs, others none", async () => {
    expect((await list(admin)).total).toBe(9);
    expect(await names(manager)).toEqual(["alpha", "gamma"]);
    expect((await list(other)).total).toBe(0);
    expect(await canUseClientsSection(db, admin)).toBe(true);
    expect(await canUseClientsSection(db, manager)).toBe(true);
    expect(await canUseClientsSection(db, other)).toBe(false);
  });

  it("detail lookup follows the same visibility (404 for others, bad ids)", async () => {
    expect(await findVisibleClient(db, admin, ids.Beta!)).not.toBeNull();
    expect(await findVisibleClient(db, manager, ids.alpha!)).not.toBeNull();
    expect(await findVisibleClient(db, manager, ids.Beta!)).toBeNull();
    expect(await findVisibleClient(db, other, ids.alpha!)).toBeNull();
    expect(await findVisibleClient(db, admin, "not-a-uuid")).toBeNull();
    expect(await findVisibleClient(db, admin, "00000000-0000-0000-0000-000000000000")).toBeNull();
  });

  it("summary cards add up the visible clients exactly, independent of search", async () => {
    const all = await clientSummary(db, admin);
    expect(all).toEqual({ totalClients: 9, totalRequests: "73", totalTokens: "1170", coinsSpent: "14.095678" });
    const mine = await list(manager, { q: "zzz" });
    expect(mine.summary).toEqual({ totalClients: 2, totalRequests: "30", totalTokens: "1150", coinsSpent: "13.845678" });
    expect(mine.total).toBe(0);
  });

  it("manager counts follow add and remove", async () => {
    const rows = (await list(admin, { sort: "managers" })).rows;
    expect(rows.slice(0, 2).map((r) => [r.name, r.managers])).toEqual([
      ["alpha", 1],
      ["gamma", 1],
    ]);
    expect(rows[2]!.managers).toBe(0);
  });

  const expected: Record<SortColumn, string[]> = {
    // byte order of lower(name) (C collation on both backends): "%" < digits < letters < non-ASCII
    name: ["50%_off", "500off", "alpha", "Beta", "gamma", "o'brien", "x_y", "xzy", "Ärger-bot"],
    managers: ["alpha", "gamma", "50%_off", "500off", "Beta", "o'brien", "x_y", "xzy", "Ärger-bot"],
    active: ["50%_off", "500off", "alpha", "Beta", "o'brien", "x_y", "xzy", "Ärger-bot", "gamma"],
    requests: ["Beta", "gamma", "alpha", "x_y", "xzy", "o'brien", "Ärger-bot", "50%_off", "500off"],
    tokens: ["gamma", "alpha", "Beta", "50%_off", "500off", "o'brien", "x_y", "xzy", "Ärger-bot"],
    coins: ["gamma", "alpha", "Beta", "50%_off", "500off", "o'brien", "x_y", "xzy", "Ärger-bot"],
    created: ["o'brien", "Ärger-bot", "xzy", "x_y", "500off", "50%_off", "Beta", "gamma", "alpha"],
  };

  it.each(SORT_COLUMNS.map((c) => [c]))("sorts by %s, and reverses, with ties broken by name", async (column) => {
    const want = expected[column as SortColumn];
    expect(await names(admin, { sort: column })).toEqual(want);
    const reversed = await names(admin, { sort: column, order: column === "name" ? "desc" : "asc" });
    if (column === "name") expect(reversed).toEqual([...want].reverse());
    else {
      // reversing the column keeps the ascending-name tie-break inside equal values
      const byKey = await list(admin, { sort: column, order: "asc" });
      expect(byKey.rows.length).toBe(9);
      expect(new Set(reversed)).toEqual(new Set(want));
    }
  });

  it("ascending requests: ties keep name order", async () => {
    expect(await names(admin, { sort: "requests", order: "asc" })).toEqual([
      "50%_off", "500off", "Ärger-bot", "o'brien", "x_y", "xzy", "alpha", "gamma", "Beta",
    ]);
  });

  it("search is a case-insensitive substring where % and _ are literal", async () => {
    expect(await names(admin, { q: "ALP" })).toEqual(["alpha"]);
    expect(await names(admin, { q: "%" })).toEqual(["50%_off"]);
    expect(await names(admin, { q: "_" })).toEqual(["50%_off", "x_y"]);
    expect(await names(admin, { q: "x_y" })).toEqual(["x_y"]);
    expect(await names(admin, { q: "'" })).toEqual(["o'brien"]);
    expect(await names(admin, { q: "o'b" })).toEqual(["o'brien"]);
    expect(await names(admin, { q: "ärger" })).toEqual(["Ärger-bot"]);
    expect(await names(admin, { q: "\\" })).toEqual([]);
    expect(await names(admin, { q: "a", sort: "requests" })).toEqual(["Beta", "gamma", "alpha"]);
    expect(await names(manager, { q: "et" })).toEqual([]);
  });

  it("paging is stable and clamps out-of-range pages", async () => {
    const extra = await Promise.all(
      Array.from({ length: 120 }, (_, i) => insertClient(db, `page-${String(i).padStart(3, "0")}`, { requests: 7 })),
    );
    try {
      const seen: string[] = [];
      for (let page = 1; page <= 3; page++) {
        const r = await list(admin, { sort: "requests", q: "page-", page: String(page) });
        expect(r.total).toBe(120);
        expect(r.totalExact).toBe(true);
        expect(r.pageCount).toBe(3);
        seen.push(...r.rows.map((x) => x.name));
      }
      expect(seen).toEqual(extra.map((c) => c.name));
      const beyond = await list(admin, { q: "page-", page: "99" });
      expect(beyond.page).toBe(3);
      expect(beyond.rows).toHaveLength(20);
    } finally {
      const { inArray } = await import("drizzle-orm");
      const { clients } = await import("@/lib/db/schema");
      await db.delete(clients).where(inArray(clients.id, extra.map((c) => c.id)));
    }
  });

  it("a search counts exactly up to the cap, then says 'more than' and keeps paging", async () => {
    expect(SEARCH_COUNT_CAP).toBe(1_000);
    // 130 matches, named so that name order is creation order
    const extra = await Promise.all(
      Array.from({ length: 130 }, (_, i) => insertClient(db, `cap-${String(i).padStart(3, "0")}`, { requests: i % 4 })),
    );
    await addManager(db, admin, extra[7]!.id, manager.user.id);
    const all = extra.map((c) => c.name);
    const at = (page: number, cap: number, viewer = admin) => list(viewer, { q: "CAP-", page: String(page) }, { searchCountCap: cap });
    try {
      // at or above the number of matches: exact, and a page past the end clamps to the last one as before
      for (const cap of [130, 200, SEARCH_COUNT_CAP]) {
        const r = await at(1, cap);
        expect([r.total, r.totalExact, r.page, r.pageCount], `cap ${cap}`).toEqual([130, true, 1, 3]);
        expect(r.rows.map((x) => x.name)).toEqual(all.slice(0, 50));
        const past = await at(99, cap);
        expect([past.total, past.totalExact, past.page, past.pageCount]).toEqual([130, true, 3, 3]);
        expect(past.rows.map((x) => x.name)).toEqual(all.slice(100));
        expect(pagingTexts(past)).toEqual({ showing: "Showing 101–130 of 130", pageOf: "Page 3 of 3", hasNext: false });
      }
      // below it: "more than the cap" on the pages within the cap, each page still the right slice
      const first = await at(1, 129);
      expect([first.total, first.totalExact, first.page, first.pageCount]).toEqual([129, false, 1, 2]);
      expect(first.rows.map((x) => x.name)).toEqual(all.slice(0, 50));
      expect(pagingTexts(first)).toEqual({ showing: "Showing 1–50 of more than 129", pageOf: "Page 1 of more than 2", hasNext: true });
      const second = await at(2, 100);
      expect([second.total, second.totalExact, second.page, second.pageCount]).toEqual([100, false, 2, 2]);
      expect(second.rows.map((x) => x.name)).toEqual(all.slice(50, 100));
      expect(pagingTexts(second)).toEqual({ showing: "Showing 51–100 of more than 100", pageOf: "Page 2 of more than 2", hasNext: true });
      // a page beyond the cap counts to its own end: exact when the matches end there, clamped when past them
      const third = await at(3, 100);
      expect([third.total, third.totalExact, third.page, third.pageCount]).toEqual([130, true, 3, 3]);
      expect(third.rows.map((x) => x.name)).toEqual(all.slice(100));
      const seventh = await at(7, 100);
      expect([seventh.total, seventh.totalExact, seventh.page, seventh.rows.length]).toEqual([130, true, 3, 30]);
      const second60 = await at(2, 60);
      expect([second60.total, second60.totalExact, second60.pageCount]).toEqual([100, false, 2]);
      // the cap never touches the unfiltered count, nor a manager's few matches
      const whole = await list(admin, {}, { searchCountCap: 1 });
      expect([whole.totalExact, whole.total]).toEqual([true, (await clientSummary(db, admin)).totalClients]);
      const mine = await at(1, 1, manager);
      expect([mine.total, mine.totalExact, mine.rows.map((x) => x.name)]).toEqual([1, true, [all[7]]]);
    } finally {
      await db.delete(clients).where(inArray(clients.id, extra.map((c) => c.id)));
    }
  });

  it("every page of every sort, both ways, is the matching slice of the whole ordered list", async () => {
    // 130 clients, requests 0..12 (ties), so pages 2 and 3 are read past an OFFSET and ties cross pages.
    const extra = await Promise.all(
      Array.from({ length: 130 }, (_, i) =>
        insertClient(db, `Deep-${String((i * 37) % 130).padStart(3, "0")}`, {
          requests: i % 13,
          input: (i * 7) % 11,
          coins: `${i % 5}.5`,
          active: i % 3 !== 0,
          createdAt: day(10 + (i % 17)),
        }),
      ),
    );
    await addManager(db, admin, extra[5]!.id, manager.user.id);
    try {
      for (const sort of SORT_COLUMNS) {
        for (const order of ["asc", "desc"]) {
          const q = { sort, order, q: "deep-" };
          const whole: string[] = [];
          for (let page = 1; page <= 3; page++) {
            const r = await list(admin, { ...q, page: String(page) });
            expect(r.page).toBe(page);
            expect(r.rows.length).toBe(page < 3 ? 50 : 30);
            whole.push(...r.rows.map((x) => x.name));
          }
          expect(new Set(whole).size).toBe(130);
          const all = await db
            .select({ name: clients.name })
            .from(clients)
            .where(like(clients.nameLower, "deep-%"))
            .orderBy(...sortedBy(sort, order));
          expect(whole, `${sort} ${order}`).toEqual(all.map((x) => x.name));
        }
      }
      // a page past the end is clamped and read again; a manager's deep page shows only theirs
      const past = await list(admin, { sort: "requests", q: "deep-", page: "7" });
      expect([past.page, past.rows.length]).toEqual([3, 30]);
      expect((await list(manager, { q: "deep-", page: "4" })).rows.map((r) => r.name)).toEqual([extra[5]!.name]);
    } finally {
      await db.delete(clients).where(inArray(clients.id, extra.map((c) => c.id)));
    }
  });

  describe("createClient", () => {
    const config = tempConfigFile();
    afterAll(() => config.cleanup());
    const create = (viewer: Viewer | null, name: unknown) => createClient(db, viewer, name, { configFile: config.file });

    it("refuses non-admins and creates nothing, not even a config entry", async () => {
      const before = await clientCount(db);
      const text = config.read();
      for (const v of [manager, other, null]) {
        await expect(create(v, "sneaky")).rejects.toMatchObject({ code: "forbidden" });
      }
      expect(await clientCount(db)).toBe(before);
      expect(await clientByName(db, "sneaky")).toBeUndefined();
      expect(config.read()).toBe(text);
    });

    it("gives the new client its entry in config.yaml", async () => {
      const made = await create(admin, "with-entry");
      expect(made.configEntry).toEqual({ written: true });
      expect(config.read()).toMatch(/^ {2}with-entry: \{\}$/m);
    });

    it("keeps the client when config.yaml cannot be written, and says why", async () => {
      const missing = path.join(path.dirname(config.file), "gone", "config.yaml");
      const made = await createClient(db, admin, "without-entry", { configFile: missing });
      expect(made.configEntry).toMatchObject({ written: false, reason: expect.stringContaining("was not found") });
      expect((await clientByName(db, "without-entry"))?.id).toBe(made.id);
    });

    it.each([
      ["", "Enter a name."],
      ["   ", "Enter a name."],
      ["-lead", "Start with a letter or a digit."],
      ["has space", "Use only letters"],
      ["<script>", "Start with a letter or a digit."],
      ["a".repeat(65), "at most 64"],
      ["Default", "reserved"],
    ])("rejects %j with a field error", async (name, message) => {
      const before = await clientCount(db);
      const text = config.read();
      const err = await create(admin, name).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe("invalid");
      expect((err as DomainError).fieldErrors?.name?.join(" ")).toContain(message);
      expect(await clientCount(db)).toBe(before);
      expect(config.read()).toBe(text);
    });

    it("trims, accepts 64 characters, and refuses a name taken ignoring case", async () => {
      const made = await create(admin, "  my-service.app_1  ");
      expect(made.name).toBe("my-service.app_1");
      expect((await clientByName(db, "my-service.app_1"))?.createdBy).toBe(admin.user.id);
      await expect(create(admin, "MY-SERVICE.APP_1")).rejects.toMatchObject({
        code: "invalid",
        fieldErrors: { name: [expect.stringContaining("already exists")] },
      });
      const long = "b".repeat(64);
      expect((await create(admin, long)).name).toBe(long);
    });

    it("two admins racing for one name: exactly one wins", async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => create(admin, i % 2 ? "race-app" : "RACE-APP")),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "invalid" });
      expect(config.read().match(/^ {2}race-app: \{\}$/gim)).toHaveLength(1);
    });
  });

  it("users are matched by e-mail ignoring case", async () => {
    const a = await upsertUser(db, { email: "Case@Example.COM", name: "First" });
    const b = await upsertUser(db, { email: "case@example.com", name: null });
    expect(b.id).toBe(a.id);
    expect(b.name).toBe("First");
    expect(b.email).toBe("case@example.com");
    expect((await makeUser(db, "manager@example.com")).id).toBe(manager.user.id);
  });

  it("adding a manager twice is a clear conflict; only admins may", async () => {
    await expect(addManager(db, admin, ids.alpha!, manager.user.id)).rejects.toMatchObject({ code: "conflict" });
    await expect(addManager(db, manager, ids.Beta!, manager.user.id)).rejects.toMatchObject({ code: "forbidden" });
    expect(await names(manager)).toEqual(["alpha", "gamma"]);
  });
});
