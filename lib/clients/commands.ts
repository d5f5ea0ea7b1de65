import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/errors";
import { clients } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { DomainError } from "@/lib/errors";
import { validateClientName } from "./names";

export interface CreatedClient {
  id: string;
  name: string;
}

/**
 * Creates a client (admins only). Throws DomainError: forbidden, or invalid with field errors for `name`
 * (rules of SPEC §3, and "already taken" ignoring case — enforced by the unique index, so two admins
 * racing for one name cannot both win).
 */
export async function createClient(db: Db, viewer: Viewer | null, rawName: unknown): Promise<CreatedClient> {
  assertAdmin(viewer);
  const checked = validateClientName(rawName);
  if (!checked.ok) throw new DomainError("invalid", "Check the name.", { name: checked.errors });
  const taken = () =>
    new DomainError("invalid", "Check the name.", {
      name: [`A client named “${checked.name}” already exists (names ignore case).`],
    });
  const [existing] = await db
    .select({ id: clients.id })
    .from(clients)
    .where(sql`${clients.nameLower} = lower(${checked.name})`)
    .limit(1);
  if (existing) throw taken();
  try {
    const [row] = await db
      .insert(clients)
      .values({ name: checked.name, createdBy: viewer.user.id })
      .returning({ id: clients.id, name: clients.name });
    if (!row) throw new Error("insert returned nothing");
    return row;
  } catch (err) {
    if (isUniqueViolation(err)) throw taken();
    throw err;
  }
}
