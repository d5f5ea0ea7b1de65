import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { clientManagers, type User } from "@/lib/db/schema";
import { forbidden } from "@/lib/errors";
import type { RequestOrigin } from "@/lib/audit/events";

/** Who is asking: read from the database and the live config on every request, never from the session. */
export interface Viewer {
  user: Pick<User, "id" | "email" | "name">;
  isAdmin: boolean;
  /** Where the request came from (server actions set it), recorded with every change in the activity trail. */
  origin?: RequestOrigin;
}

export async function managesAnyClient(ex: Executor, userId: string): Promise<boolean> {
  const found = await ex
    .select({ one: sql<number>`1` })
    .from(clientManagers)
    .where(eq(clientManagers.userId, userId))
    .limit(1);
  return found.length > 0;
}

export async function isManagerOf(ex: Executor, userId: string, clientId: string): Promise<boolean> {
  const found = await ex
    .select({ one: sql<number>`1` })
    .from(clientManagers)
    .where(and(eq(clientManagers.userId, userId), eq(clientManagers.clientId, clientId)))
    .limit(1);
  return found.length > 0;
}

/** May the viewer open the Clients section at all (admin, or manager of at least one client)? */
export async function canUseClientsSection(ex: Executor, viewer: Viewer): Promise<boolean> {
  return viewer.isAdmin || managesAnyClient(ex, viewer.user.id);
}

export async function canViewClient(ex: Executor, viewer: Viewer, clientId: string): Promise<boolean> {
  return viewer.isAdmin || isManagerOf(ex, viewer.user.id, clientId);
}

export function assertAdmin(viewer: Viewer | null): asserts viewer is Viewer {
  if (!viewer?.isAdmin) throw forbidden("Only administrators can do that.");
}
