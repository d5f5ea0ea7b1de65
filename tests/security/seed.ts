/** The suite's fixed data, written before the server starts. */
import type { Db } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { upsertUser } from "@/lib/auth/users";
import { addManager } from "@/lib/clients/managers";
import { generateApiKey } from "@/lib/keys/api-key";
import { SECRET } from "./server";

/** The five actors of the permission matrix (the fifth is signed out). */
export const ACTORS = {
  admin: "admin@example.com",
  /** Manages alpha-bot. */
  managerA: "alice@example.com",
  /** Manages beta-bot: a manager, but of another client. */
  managerB: "bob@example.com",
  /** Signed in, manages nothing. */
  plain: "pat@example.com",
} as const;
export type SignedInActor = keyof typeof ACTORS;

export interface SecuritySeed {
  users: Record<SignedInActor, string>;
  clients: { alpha: string; beta: string };
  keys: {
    alpha: { id: string; plaintext: string; hash: string };
    beta: { id: string; plaintext: string; hash: string };
  };
}

export async function seedSecurity(db: Db): Promise<SecuritySeed> {
  const users = {} as Record<SignedInActor, string>;
  for (const [actor, email] of Object.entries(ACTORS) as [SignedInActor, string][]) {
    users[actor] = (await upsertUser(db, { email, name: actor })).id;
  }
  const adminViewer = { user: { id: users.admin, email: ACTORS.admin, name: "admin" }, isAdmin: true };
  const [alpha] = await db.insert(clients).values({ name: "alpha-bot" }).returning({ id: clients.id });
  const [beta] = await db.insert(clients).values({ name: "beta-bot" }).returning({ id: clients.id });
  await addManager(db, adminViewer, alpha!.id, users.managerA);
  await addManager(db, adminViewer, beta!.id, users.managerB);
  const key = async (clientId: string, name: string) => {
    const k = generateApiKey(SECRET);
    const [row] = await db.insert(apiKeys).values({ clientId, name, keyHash: k.hash, hint: k.hint, createdBy: users.admin }).returning({ id: apiKeys.id });
    return { id: row!.id, plaintext: k.plaintext, hash: k.hash };
  };
  return {
    users,
    clients: { alpha: alpha!.id, beta: beta!.id },
    keys: { alpha: await key(alpha!.id, "alpha-key"), beta: await key(beta!.id, "beta-key") },
  };
}
