import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { processState } from "@/lib/process-state";

export interface ActivationState {
  active: boolean;
  deactivatedAt: Date | null;
}

/**
 * Activates or deactivates a client (admins only). Nothing is deleted: keys, managers, pool and usage
 * stay, and the gateway refuses a deactivated client's keys (403 client_deactivated) until it is
 * activated again — at once in this process, within 500 ms on other instances. Idempotent: deactivating twice keeps the first deactivation time.
 */
export async function setClientActive(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  active: boolean,
): Promise<ActivationState> {
  assertAdmin(viewer);
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  const [row] = await db
    .update(clients)
    .set({
      active,
      deactivatedAt: active ? null : sql`coalesce(${clients.deactivatedAt}, now())`,
    })
    .where(eq(clients.id, clientId))
    .returning({ active: clients.active, deactivatedAt: clients.deactivatedAt });
  if (!row) throw notFound("That client does not exist.");
  // This process's gateway refuses (or accepts again) the client's keys from the next request.
  processState().gateway?.forgetClient(clientId);
  return row;
}
