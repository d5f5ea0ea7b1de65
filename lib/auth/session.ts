import { cache } from "react";
import { eq } from "drizzle-orm";
import { auth } from "@/lib/auth";
import { isAdminEmail } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import type { Viewer } from "./permissions";

/**
 * The signed-in viewer with live admin status, or null when signed out (or the user row is gone).
 * Memoized per request (layouts and the page ask for it), never across requests.
 */
export const currentViewer = cache(async (): Promise<Viewer | null> => {
  const session = await auth();
  const id = session?.user?.id;
  if (!id || !/^[0-9a-f-]{36}$/i.test(id)) return null;
  const db = await getDb();
  const [user] = await db
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(eq(users.id, id))
    .limit(1);
  if (!user) return null;
  return { user, isAdmin: isAdminEmail(user.email) };
});
