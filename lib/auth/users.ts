import { sql } from "drizzle-orm";
import type { Executor } from "@/lib/db/client";
import { users, type User } from "@/lib/db/schema";

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Creates the user on first sign-in and refreshes name and sign-in time afterwards. */
export async function upsertUser(
  ex: Executor,
  input: { email: string; name?: string | null; image?: string | null },
): Promise<User> {
  const email = normalizeEmail(input.email);
  const name = input.name?.trim() || null;
  const [row] = await ex
    .insert(users)
    .values({ email, name, image: input.image ?? null, lastSignInAt: new Date() })
    .onConflictDoUpdate({
      target: users.email,
      set: {
        name: sql`coalesce(excluded.name, ${users.name})`,
        image: sql`coalesce(excluded.image, ${users.image})`,
        lastSignInAt: sql`now()`,
      },
    })
    .returning();
  if (!row) throw new Error("user upsert returned nothing");
  return row;
}
