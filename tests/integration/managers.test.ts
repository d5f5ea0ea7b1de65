import { beforeAll, describe, expect, it } from "vitest";
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clientManagers, clients, users } from "@/lib/db/schema";
import type { Viewer } from "@/lib/auth/permissions";
import {
  MANAGER_SEARCH_LIMIT,
  addManager,
  listManagers,
  removeManager,
  searchUsersForManager,
} from "@/lib/clients/managers";
import { DomainError } from "@/lib/errors";
import { backends, useBackend } from "../helpers/backend";
import { insertClient, makeUser } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";

const MISSING_ID = "00000000-0000-4000-8000-000000000000";

describe.each(backends())("managers on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let { admin, manager: managerHere, otherManager: managerElsewhere, plain } = {} as Roles;
  let clientId: string;
  let otherClientId: string;
  let candidateId: string;

  /** Everything a manager action could change for a client. */
  async function snapshot(id: string) {
    const [row] = await db.select({ managerCount: clients.managerCount }).from(clients).where(eq(clients.id, id));
    const rows = await db
      .select({ userId: clientManagers.userId })
      .from(clientManagers)
      .where(eq(clientManagers.clientId, id))
      .orderBy(asc(clientManagers.userId));
    return { managerCount: row?.managerCount, managers: rows.map((r) => r.userId) };
  }

  const search = (q: string, viewer: Viewer | null = admin, id = clientId) => searchUsersForManager(db, viewer, id, q);
  const emails = async (q: string, id = clientId) => (await search(q, admin, id)).map((u) => u.email);

  beforeAll(async () => {
    ({ admin, manager: managerHere, otherManager: managerElsewhere, plain } = await setUpRoles(db, {
      emails: { manager: "here@example.com", otherManager: "elsewhere@example.com" },
    }));
    candidateId = (await makeUser(db, "candidate@example.com", "Candidate Person")).id;
    clientId = (await insertClient(db, "research-bot")).id;
    otherClientId = (await insertClient(db, "data-pipeline")).id;
    await addManager(db, admin, clientId, managerHere.user.id);
    await addManager(db, admin, otherClientId, managerElsewhere.user.id);
  });

  describe("permission matrix: only admins may add, remove or search; refused calls change nothing", () => {
    const refused = () =>
      [
        ["manager of this client", managerHere],
        ["manager of another client", managerElsewhere],
        ["plain user", plain],
        ["signed out", null],
      ] as const;

    it("addManager", async () => {
      for (const [, viewer] of refused()) {
        const before = await snapshot(clientId);
        for (const userId of [candidateId, viewer?.user.id ?? plain.user.id]) {
          await expect(addManager(db, viewer, clientId, userId)).rejects.toMatchObject({ code: "forbidden" });
        }
        expect(await snapshot(clientId)).toEqual(before);
      }
    });

    it("removeManager", async () => {
      for (const [, viewer] of refused()) {
        const before = await snapshot(clientId);
        await expect(removeManager(db, viewer, clientId, managerHere.user.id)).rejects.toMatchObject({ code: "forbidden" });
        expect(await snapshot(clientId)).toEqual(before);
        expect(before.managers).toContain(managerHere.user.id);
      }
    });

    it("searchUsersForManager", async () => {
      for (const [, viewer] of refused()) {
        await expect(search("example", viewer)).rejects.toMatchObject({ code: "forbidden" });
      }
    });

    it("admin is allowed every action", async () => {
      await addManager(db, admin, clientId, candidateId);
      expect((await snapshot(clientId)).managers).toContain(candidateId);
      expect((await search("candidate")).map((u) => u.id)).toEqual([]);
      await removeManager(db, admin, clientId, candidateId);
      expect((await snapshot(clientId)).managers).not.toContain(candidateId);
      expect((await search("candidate")).map((u) => u.id)).toEqual([candidateId]);
    });
  });

  it("adding keeps manager_count in step and records who added", async () => {
    const before = await snapshot(clientId);
    await addManager(db, admin, clientId, candidateId);
    const after = await snapshot(clientId);
    expect(after.managerCount).toBe(before.managerCount! + 1);
    expect(after.managers).toHaveLength(after.managerCount!);
    const [row] = await db
      .select({ addedBy: clientManagers.addedBy })
      .from(clientManagers)
      .where(eq(clientManagers.userId, candidateId));
    expect(row?.addedBy).toBe(admin.user.id);
    await removeManager(db, admin, clientId, candidateId);
    expect(await snapshot(clientId)).toEqual(before);
  });

  it("a duplicate manager is a clear conflict naming the person, and changes nothing", async () => {
    const before = await snapshot(clientId);
    const err = await addManager(db, admin, clientId, managerHere.user.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("conflict");
    expect((err as DomainError).fieldErrors?.user?.join(" ")).toMatch(/here@example\.com.*already manages this client/);
    expect(await snapshot(clientId)).toEqual(before);
  });

  it("racing adds of one person: exactly one wins, the count stays exact", async () => {
    const racer = await makeUser(db, "racer@example.com", "Racer");
    const before = await snapshot(clientId);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => addManager(db, admin, clientId, racer.id)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "conflict" });
    const after = await snapshot(clientId);
    expect(after.managerCount).toBe(before.managerCount! + 1);
    expect(after.managers).toHaveLength(after.managerCount!);
    await removeManager(db, admin, clientId, racer.id);
  });

  it.each([
    ["an id nobody has", MISSING_ID],
    ["a malformed id", "not-a-uuid"],
    ["an empty id", ""],
  ])("adding %s is an unknown-user field error and changes nothing", async (_label, userId) => {
    const before = await snapshot(clientId);
    const err = await addManager(db, admin, clientId, userId).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid" });
    expect((err as DomainError).fieldErrors?.user?.join(" ")).toContain("signed in");
    expect(await snapshot(clientId)).toEqual(before);
  });

  it("an unknown client is not found, for add, remove and search", async () => {
    for (const id of [MISSING_ID, "nope"]) {
      await expect(addManager(db, admin, id, candidateId)).rejects.toMatchObject({ code: "not_found" });
      await expect(removeManager(db, admin, id, candidateId)).rejects.toMatchObject({ code: "not_found" });
    }
    await expect(search("x", admin, "nope")).rejects.toMatchObject({ code: "not_found" });
  });

  it("removing someone who is not a manager is a no-op; removing twice too", async () => {
    const before = await snapshot(clientId);
    await removeManager(db, admin, clientId, candidateId);
    await removeManager(db, admin, clientId, managerElsewhere.user.id);
    await removeManager(db, admin, clientId, MISSING_ID);
    await removeManager(db, admin, clientId, "not-a-uuid");
    expect(await snapshot(clientId)).toEqual(before);
    expect(await snapshot(otherClientId)).toMatchObject({ managerCount: 1, managers: [managerElsewhere.user.id] });

    await addManager(db, admin, clientId, candidateId);
    await removeManager(db, admin, clientId, candidateId);
    await removeManager(db, admin, clientId, candidateId);
    expect(await snapshot(clientId)).toEqual(before);
  });

  it("lists managers by name, falling back to e-mail, with the date added", async () => {
    const c = (await insertClient(db, "listing")).id;
    const zed = await makeUser(db, "zed@example.com", "Zed");
    const anna = await makeUser(db, "anna@example.com", "anna");
    const nameless = await makeUser(db, "bob@example.com");
    await db.update(users).set({ name: null }).where(eq(users.id, nameless.id));
    for (const u of [zed, nameless, anna]) await addManager(db, admin, c, u.id);
    const list = await listManagers(db, c);
    expect(list.map((m) => [m.name, m.email])).toEqual([
      ["anna", "anna@example.com"],
      [null, "bob@example.com"],
      ["Zed", "zed@example.com"],
    ]);
    expect(list[0]!.userId).toBe(anna.id);
    expect(list[0]!.addedAt).toBeInstanceOf(Date);
    expect(await listManagers(db, otherClientId)).toHaveLength(1);
    expect(await listManagers(db, MISSING_ID)).toEqual([]);
    expect(await listManagers(db, "nope")).toEqual([]);
  });

  describe("search", () => {
    beforeAll(async () => {
      await makeUser(db, "ada.lovelace@uni.example", "Ada Lovelace");
      await makeUser(db, "grace@navy.example", "Grace Hopper");
      await makeUser(db, "percent@example.org", "Fifty%Off");
      await makeUser(db, "under_score@example.org", "Under Score");
      await makeUser(db, "underxscore@example.org", "Underxscore");
      await makeUser(db, "lovelace.fan@example.org", "Fan Club");
      for (let i = 0; i < 15; i++) await makeUser(db, `bulk${String(i).padStart(2, "0")}@bulk.example`, `Bulk ${i}`);
    });

    it("matches name or e-mail, ignoring case", async () => {
      expect(await emails("GRACE")).toEqual(["grace@navy.example"]);
      expect(await emails("hopper")).toEqual(["grace@navy.example"]);
      expect(await emails("NAVY.EXAMPLE")).toEqual(["grace@navy.example"]);
      expect((await search("hopper"))[0]).toMatchObject({ name: "Grace Hopper", email: "grace@navy.example" });
    });

    it("puts prefix matches first", async () => {
      // "Ada Lovelace" has lovelace inside its name; "lovelace.fan" starts with it.
      expect(await emails("lovelace")).toEqual(["lovelace.fan@example.org", "ada.lovelace@uni.example"]);
    });

    it("returns at most 10, in order", async () => {
      const found = await emails("bulk");
      expect(found).toHaveLength(MANAGER_SEARCH_LIMIT);
      expect(found[0]).toBe("bulk00@bulk.example");
    });

    it("treats % and _ literally", async () => {
      expect(await emails("%")).toEqual(["percent@example.org"]);
      expect(await emails("under_")).toEqual(["under_score@example.org"]);
      expect(await emails("\\")).toEqual([]);
    });

    it("excludes current managers of this client only", async () => {
      // "here@" is also inside "elsewhere@": each client hides only its own managers.
      expect(await emails("here@")).toEqual(["elsewhere@example.com"]);
      expect(await emails("here@", otherClientId)).toEqual(["here@example.com"]);
      expect(await emails("elsewhere@", otherClientId)).toEqual([]);
    });

    it("a blank query matches nobody", async () => {
      expect(await search("")).toEqual([]);
      expect(await search("   ")).toEqual([]);
      expect(await emails("  grace  ")).toEqual(["grace@navy.example"]);
    });
  });
});
