import { beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { apiKeys, clientManagers, clients } from "@/lib/db/schema";
import { setClientActive } from "@/lib/clients/activation";
import { backends, useBackend } from "../helpers/backend";
import { insertClient } from "../helpers/fixtures";
import { setUpRoles, type Roles } from "../helpers/roles";

describe.each(backends())("client activation on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));
  let { admin, manager: managerHere, otherManager: managerElsewhere, plain } = {} as Roles;
  let clientId: string;

  async function state(id = clientId) {
    const [row] = await db
      .select({ active: clients.active, deactivatedAt: clients.deactivatedAt, managerCount: clients.managerCount })
      .from(clients)
      .where(eq(clients.id, id));
    const keys = await db.select({ id: apiKeys.id, revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.clientId, id));
    const managers = await db.select({ userId: clientManagers.userId }).from(clientManagers).where(eq(clientManagers.clientId, id));
    return { ...row, keys, managers: managers.map((m) => m.userId) };
  }

  beforeAll(async () => {
    clientId = (await insertClient(db, "research-bot")).id;
    const otherId = (await insertClient(db, "data-pipeline")).id;
    ({ admin, manager: managerHere, otherManager: managerElsewhere, plain } = await setUpRoles(db, { manages: [clientId, otherId] }));
    await db.insert(apiKeys).values({ clientId, name: "production", keyHash: "h".repeat(64), hint: "sk_AbCd…wxyz" });
  });

  it("refuses everyone but admins, in both directions, and changes nothing", async () => {
    const refused = [managerHere, managerElsewhere, plain, null];
    for (const target of [false, true]) {
      const before = await state();
      for (const viewer of refused) {
        await expect(setClientActive(db, viewer, clientId, !before.active)).rejects.toMatchObject({ code: "forbidden" });
      }
      expect(await state()).toEqual(before);
      await setClientActive(db, admin, clientId, target);
    }
    expect((await state()).active).toBe(true);
  });

  it("deactivates and reactivates idempotently; deactivated_at is set once and cleared", async () => {
    const initial = await state();
    expect(initial).toMatchObject({ active: true, deactivatedAt: null });

    const first = await setClientActive(db, admin, clientId, false);
    expect(first.active).toBe(false);
    expect(first.deactivatedAt).toBeInstanceOf(Date);
    expect(Math.abs(first.deactivatedAt!.getTime() - Date.now())).toBeLessThan(60_000);

    const again = await setClientActive(db, admin, clientId, false);
    expect(again).toEqual(first);
    expect(await state()).toMatchObject({ active: false, deactivatedAt: first.deactivatedAt });

    expect(await setClientActive(db, admin, clientId, true)).toEqual({ active: true, deactivatedAt: null });
    expect(await setClientActive(db, admin, clientId, true)).toEqual({ active: true, deactivatedAt: null });
    expect(await state()).toEqual(initial);
  });

  it("keeps keys and managers through deactivation", async () => {
    const before = await state();
    expect(before.keys).toHaveLength(1);
    await setClientActive(db, admin, clientId, false);
    const during = await state();
    expect(during.keys).toEqual(before.keys);
    expect(during.managers).toEqual(before.managers);
    expect(during.managerCount).toBe(before.managerCount);
    await setClientActive(db, admin, clientId, true);
    expect(await state()).toEqual(before);
  });

  it("a client created deactivated gets a deactivation time when deactivated again", async () => {
    const id = (await insertClient(db, "legacy", { active: false })).id;
    const result = await setClientActive(db, admin, id, false);
    expect(result.active).toBe(false);
    expect(result.deactivatedAt).toBeInstanceOf(Date);
  });

  it("an unknown or malformed client id is not found", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "nope", ""]) {
      await expect(setClientActive(db, admin, id, false)).rejects.toMatchObject({ code: "not_found" });
    }
  });
});
