import { isUuid } from "@/lib/ids";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db, Executor } from "@/lib/db/client";
import { clientManagers, clients, users } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
import { DomainError, notFound } from "@/lib/errors";
import { likeContains } from "./queries";

/** The Add Manager dialog shows at most this many matches. */
export const MANAGER_SEARCH_LIMIT = 10;
/** Longer search text cannot match a name or e-mail anyone would type; it is cut, never an error. */
const MAX_QUERY_LENGTH = 200;

/** Ids arrive from forms; anything that is not a uuid cannot name a row (and must not reach SQL as one). */
export { isUuid };

export interface ManagerRow {
  userId: string;
  name: string | null;
  email: string;
  addedAt: Date;
}

export interface UserMatch {
  id: string;
  name: string | null;
  email: string;
}

/** How a person is named in messages: "Ada Lovelace (ada@example.com)", or the e-mail alone. */
export function personLabel(user: { name: string | null; email: string }): string {
  return user.name ? `${user.name} (${user.email})` : user.email;
}

const byNameThenEmail = [asc(sql`lower(coalesce(${users.name}, ${users.email}))`), asc(users.email)];

/** The managers of a client, by name (or e-mail when a person has no name). The caller checks visibility. */
export async function listManagers(ex: Executor, clientId: string): Promise<ManagerRow[]> {
  if (!isUuid(clientId)) return [];
  return ex
    .select({ userId: users.id, name: users.name, email: users.email, addedAt: clientManagers.addedAt })
    .from(clientManagers)
    .innerJoin(users, eq(users.id, clientManagers.userId))
    .where(eq(clientManagers.clientId, clientId))
    .orderBy(...byNameThenEmail);
}

/**
 * People an admin may add as managers of a client: name or e-mail contains `q` (ignoring case, `%` and
 * `_` literal), not already managing it; names or e-mails starting with `q` first. Only people who have
 * signed in at least once exist as users. Blank `q` matches nobody.
 */
export async function searchUsersForManager(
  ex: Executor,
  viewer: Viewer | null,
  clientId: string,
  q: string,
): Promise<UserMatch[]> {
  assertAdmin(viewer);
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  const text = q.trim().slice(0, MAX_QUERY_LENGTH).toLowerCase();
  if (!text) return [];
  const pattern = likeContains(text);
  const name = sql`lower(coalesce(${users.name}, ''))`;
  const prefix = sql`(starts_with(${name}, ${text}) or starts_with(${users.email}, ${text}))`;
  return ex
    .select({ id: users.id, name: users.name, email: users.email })
    .from(users)
    .where(
      and(
        sql`(${name} like ${pattern} escape '\\' or ${users.email} like ${pattern} escape '\\')`,
        sql`not exists (select 1 from ${clientManagers} where ${clientManagers.clientId} = ${clientId} and ${clientManagers.userId} = ${users.id})`,
      ),
    )
    .orderBy(sql`${prefix} desc`, ...byNameThenEmail)
    .limit(MANAGER_SEARCH_LIMIT);
}

const unknownUser = () =>
  new DomainError("invalid", "Unknown user.", {
    user: ["That person is not a Lumen user. People can be added after they have signed in once."],
  });

/**
 * Assigns a user as manager of a client (admins only). The client's manager count is kept in step in
 * the same transaction, so the Clients page can sort by it without a join.
 */
export async function addManager(db: Db, viewer: Viewer | null, clientId: string, userId: string): Promise<void> {
  assertAdmin(viewer);
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  if (!isUuid(userId)) throw unknownUser();
  const audit = await db.transaction(async (tx) => {
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const [user] = await tx
      .select({ id: users.id, name: users.name, email: users.email })
      .from(users)
      .where(eq(users.id, userId));
    if (!user) throw unknownUser();
    const inserted = await tx
      .insert(clientManagers)
      .values({ clientId, userId, addedBy: viewer.user.id })
      .onConflictDoNothing()
      .returning({ userId: clientManagers.userId });
    if (inserted.length === 0) {
      throw new DomainError("conflict", "Already a manager.", {
        user: [`${personLabel(user)} already manages this client.`],
      });
    }
    await tx
      .update(clients)
      .set({ managerCount: sql`${clients.managerCount} + 1` })
      .where(eq(clients.id, clientId));
    return recordAudit(tx, viewer, {
      clientId,
      action: "manager.added",
      target: { type: "user", id: userId, label: user.email },
      details: { name: user.name },
    });
  });
  emitAudit(audit);
}

/** Removes a manager (admins only). Removing someone who is not a manager changes nothing. */
export async function removeManager(db: Db, viewer: Viewer | null, clientId: string, userId: string): Promise<void> {
  assertAdmin(viewer);
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  if (!isUuid(userId)) return;
  const audit = await db.transaction(async (tx) => {
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const removed = await tx
      .delete(clientManagers)
      .where(and(eq(clientManagers.clientId, clientId), eq(clientManagers.userId, userId)))
      .returning({ userId: clientManagers.userId });
    if (removed.length === 0) return null;
    await tx
      .update(clients)
      .set({ managerCount: sql`${clients.managerCount} - 1` })
      .where(eq(clients.id, clientId));
    const [user] = await tx.select({ name: users.name, email: users.email }).from(users).where(eq(users.id, userId));
    return recordAudit(tx, viewer, {
      clientId,
      action: "manager.removed",
      target: { type: "user", id: userId, label: user?.email ?? null },
      details: { name: user?.name ?? null },
    });
  });
  if (audit) emitAudit(audit);
}
