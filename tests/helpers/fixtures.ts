import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { upsertUser } from "@/lib/auth/users";
import type { Viewer } from "@/lib/auth/permissions";

export async function makeUser(db: Db, email: string, name?: string) {
  return upsertUser(db, { email, name: name ?? email.split("@")[0] });
}

export async function viewerFor(db: Db, email: string, isAdmin: boolean): Promise<Viewer> {
  const user = await makeUser(db, email);
  return { user: { id: user.id, email: user.email, name: user.name }, isAdmin };
}

/** Inserts a client directly with given counters (usage is normally written by the gateway). */
export async function insertClient(
  db: Db,
  name: string,
  usage: { requests?: number; input?: number; output?: number; coins?: string; active?: boolean; createdAt?: Date } = {},
) {
  const [row] = await db
    .insert(clients)
    .values({
      name,
      requests: usage.requests ?? 0,
      inputTokens: usage.input ?? 0,
      outputTokens: usage.output ?? 0,
      coinsSpent: usage.coins ?? "0",
      active: usage.active ?? true,
      createdAt: usage.createdAt ?? new Date(),
    })
    .returning();
  if (!row) throw new Error("insert failed");
  return row;
}

export async function clientCount(db: Db): Promise<number> {
  const [r] = await db.select({ n: sql<number>`count(*)::int` }).from(clients);
  return Number(r?.n ?? 0);
}

export async function clientByName(db: Db, name: string) {
  const [r] = await db.select().from(clients).where(eq(clients.name, name));
  return r;
}
