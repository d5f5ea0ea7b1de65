import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/errors";
import { clients } from "@/lib/db/schema";
import { assertAdmin, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
import { addClientEntry, type AddClientEntryResult } from "@/lib/config/writer";
import { DomainError } from "@/lib/errors";
import { errorFields, log } from "@/lib/log";
import { validateClientName } from "./names";

export interface CreatedClient {
  id: string;
  name: string;
}

export interface NewClient extends CreatedClient {
  /** Whether config.yaml has the client's entry; if not, the client's page asks for it to be added by hand. */
  configEntry: AddClientEntryResult;
}

/**
 * Creates a client (admins only) and gives it its entry `<name>: {}` in config.yaml (SPEC §3). The
 * client exists once its row is committed: a config file that cannot be written does not undo it —
 * the outcome is recorded in the activity trail and returned, for the page to tell the admin.
 * `configFile`: the config.yaml to add the entry to (the live one is `configPath()`).
 * Throws DomainError: forbidden, or invalid with field errors for `name`.
 */
export async function createClient(
  db: Db,
  viewer: Viewer | null,
  rawName: unknown,
  { configFile }: { configFile: string },
): Promise<NewClient> {
  const created = await insertClientRow(db, viewer, rawName);
  const configEntry = await addClientEntry(created.name, configFile);
  if (!configEntry.written) log.warn("config.yaml not updated for new client", { client: created.name, reason: configEntry.reason });
  try {
    await recordConfigEntry(db, viewer, created, configEntry);
  } catch (err) {
    // The client exists either way; the page says whether the entry must be added by hand.
    log.error("recording the config entry outcome failed", { clientId: created.id, ...errorFields(err) });
  }
  return { ...created, configEntry };
}

/**
 * The database half of `createClient`: checks the name (rules of SPEC §3, and "already taken" ignoring
 * case — enforced by the unique index, so two admins racing for one name cannot both win) and inserts
 * the client with its audit event, in one transaction.
 */
async function insertClientRow(db: Db, viewer: Viewer | null, rawName: unknown): Promise<CreatedClient> {
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
