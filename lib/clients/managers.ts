import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clientManagers, clients, users } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { DomainError, notFound } from "@/lib/errors";

/**
 * Assigns a user as manager of a client (admins only). The client's manager count is kept in step in
 * the same transaction, so the Clients page can sort by it without a join.
 */
export async function addManager(db: Db, viewer: Viewer | null, clientId: string, userId: string): Promise<void> {
  assertAdmin(viewer);
  await db.transaction(async (tx) => {
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
    if (!user) throw new DomainError("invalid", "Unknown user.", { user: ["No user with that name or e-mail has signed in yet."] });
    const inserted = await tx
      .insert(clientManagers)
      .values({ clientId, userId, addedBy: viewer.user.id })
      .onConflictDoNothing()
      .returning({ userId: clientManagers.userId });
    if (inserted.length === 0) {
      throw new DomainError("conflict", "Already a manager.", { user: ["This user already manages the client."] });
    }
    await tx
      .update(clients)
      .set({ managerCount: sql`${clients.managerCount} + 1` })
      .where(eq(clients.id, clientId));
  });
}

export async function removeManager(db: Db, viewer: Viewer | null, clientId: string, userId: string): Promise<void> {
  assertAdmin(viewer);
  await db.transaction(async (tx) => {
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const removed = await tx
      .delete(clientManagers)
      .where(and(eq(clientManagers.clientId, clientId), eq(clientManagers.userId, userId)))
      .returning({ userId: clientManagers.userId });
    if (removed.length > 0) {
      await tx
        .update(clients)
        .set({ managerCount: sql`${clients.managerCount} - 1` })
        .where(eq(clients.id, clientId));
    }
  });
}
