import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/errors";
import { clients } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
import type { AddClientEntryResult } from "@/lib/config/writer";
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
  try {
    const { created, audit } = await db.transaction(async (tx) => {
      const [existing] = await tx
        .select({ id: clients.id })
        .from(clients)
        .where(sql`${clients.nameLower} = lower(${checked.name})`)
        .limit(1);
      if (existing) throw taken();
      const [row] = await tx
        .insert(clients)
        .values({ name: checked.name, createdBy: viewer.user.id })
        .returning({ id: clients.id, name: clients.name });
      if (!row) throw new Error("insert returned nothing");
      const audit = await recordAudit(tx, viewer, {
        clientId: row.id,
        action: "client.created",
        target: { type: "client", id: row.id, label: row.name },
      });
      return { created: row, audit };
    });
    emitAudit(audit);
    return created;
  } catch (err) {
    if (isUniqueViolation(err)) throw taken();
    throw err;
  }
}

/**
 * Records what became of the client's config.yaml entry after creation (written, or why not). Its own
 * fact — the file is not in the database's transaction — recorded once the write was attempted.
 */
export async function recordConfigEntry(
  db: Db,
  viewer: Viewer | null,
  client: CreatedClient,
  outcome: AddClientEntryResult,
): Promise<void> {
  const audit = await recordAudit(db, viewer, {
    clientId: client.id,
    action: outcome.written ? "config.entry_written" : "config.entry_failed",
    target: { type: "config", label: `clients.${client.name}` },
    details: outcome.written ? {} : { reason: outcome.reason },
  });
  emitAudit(audit);
}
