import type { Db } from "@/lib/db/client";
import type { Viewer } from "@/lib/auth/permissions";
import { addManager } from "@/lib/clients/managers";
import { viewerFor } from "./fixtures";

export type RoleName = "admin" | "manager" | "otherManager" | "plain";
export type Roles = Record<RoleName, Viewer>;

const EMAILS: Record<RoleName, string> = {
  admin: "admin@example.com",
  manager: "manager@example.com",
  otherManager: "other-manager@example.com",
  plain: "plain@example.com",
};

/**
 * The four roles a permission test runs through: an admin, the manager of one client, the manager of
 * another client, and a signed-in user who manages nothing. With `manages`, the admin adds the two
 * managers to those two clients (mine, the other's).
 */
export async function setUpRoles(
  db: Db,
  o: { manages?: readonly [mine: string, others: string]; emails?: Partial<Record<RoleName, string>> } = {},
): Promise<Roles> {
  const email = { ...EMAILS, ...o.emails };
  const roles: Roles = {
    admin: await viewerFor(db, email.admin, true),
    manager: await viewerFor(db, email.manager, false),
    otherManager: await viewerFor(db, email.otherManager, false),
    plain: await viewerFor(db, email.plain, false),
  };
  if (o.manages) {
    await addManager(db, roles.admin, o.manages[0], roles.manager.user.id);
    await addManager(db, roles.admin, o.manages[1], roles.otherManager.user.id);
  }
  return roles;
}
