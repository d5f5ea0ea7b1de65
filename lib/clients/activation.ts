import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
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
  const result = await db.transaction(async (tx) => {
    const [before] = await tx
      .select({ name: clients.name, active: clients.active })
      .from(clients)
      .where(eq(clients.id, clientId))
      .for("update");
    if (!before) throw notFound("That client does not exist.");
    const [row] = await tx
      .update(clients)
      .set({
        active,
        deactivatedAt: active ? null : sql`coalesce(${clients.deactivatedAt}, now())`,
      })
      .where(eq(clients.id, clientId))
      .returning({ active: clients.active, deactivatedAt: clients.deactivatedAt });
    if (!row) throw notFound("That client does not exist.");
    // Setting the state it already has changes nothing, so it records nothing.
    const audit =
      before.active === active
        ? null
        : await recordAudit(tx, viewer, {
            clientId,
            action: active ? "client.activated" : "client.deactivated",
            target: { type: "client", id: clientId, label: before.name },
          });
    return { row, audit };
  });
  // This process's gateway refuses (or accepts again) the client's keys from the next request (after
  // the commit, so no lookup can cache the old state again).
  processState().gateway?.forgetClient(clientId);
  if (result.audit) emitAudit(result.audit);
  return result.row;
}
