import { isUuid } from "@/lib/ids";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Db, Executor } from "@/lib/db/client";
import { apiKeys, clients } from "@/lib/db/schema";
import { canViewClient, type Viewer } from "@/lib/auth/permissions";
import { DomainError, forbidden, notFound } from "@/lib/errors";
import { generateApiKey } from "./secret";
import { typedNameSchema } from "@/lib/names";
import { processState } from "@/lib/process-state";

export const KEY_NAME_MAX = 64;
/** Control characters, line/paragraph separators and bidi overrides: invisible or misleading in a list. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

/** A key's name (SPEC §4): trimmed, 1–64 printable characters, e.g. "production", "Jane's laptop". */
export const keyNameSchema = typedNameSchema(KEY_NAME_MAX, (name) =>
  UNPRINTABLE.test(name) ? ["Use only printable characters (no line breaks or control characters)."] : [],
);

export interface CreatedApiKey {
  id: string;
  name: string;
  hint: string;
  /** The only time the key exists outside the caller's hands: return it to the user, never store or log it. */
  plaintext: string;
}

/**
 * Managers of the client and admins may manage its keys, checked from the database on every call.
 * Throws forbidden (signed out; not a manager, whether or not the client exists) or not_found (bad id).
 */
async function assertCanManageKeys(ex: Executor, viewer: Viewer | null, clientId: string): Promise<Viewer> {
  if (!viewer) throw forbidden("Sign in to manage API keys.");
  if (!isUuid(clientId)) throw notFound("That client does not exist.");
  if (!(await canViewClient(ex, viewer, clientId))) throw forbidden("Only this client's managers and administrators can manage its API keys.");
  return viewer;
}

/**
 * Creates a key for the client. Names are unique (ignoring case) among the client's non-revoked keys; the
 * check runs under a lock on the client row, so two concurrent creations cannot both take a name.
 */
export async function createApiKey(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  rawName: unknown,
): Promise<CreatedApiKey> {
  const parsed = keyNameSchema.safeParse(rawName);
  return db.transaction(async (tx) => {
    const who = await assertCanManageKeys(tx, viewer, clientId);
    if (!parsed.success) {
      throw new DomainError("invalid", "Check the name.", { name: parsed.error.issues.map((i) => i.message) });
    }
    const name = parsed.data;
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const [clash] = await tx
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.clientId, clientId), isNull(apiKeys.revokedAt), sql`lower(${apiKeys.name}) = lower(${name})`))
      .limit(1);
    if (clash) {
      throw new DomainError("invalid", "Check the name.", {
        name: [`A key named “${name}” already exists for this client. Choose another name or revoke that key first.`],
      });
    }
    const key = generateApiKey();
    const [row] = await tx
      .insert(apiKeys)
      .values({ clientId, name, keyHash: key.hash, hint: key.hint, createdBy: who.user.id })
      .returning({ id: apiKeys.id });
    if (!row) throw new Error("insert returned nothing");
    return { id: row.id, name, hint: key.hint, plaintext: key.plaintext };
  });
}

export type RevokeResult = { revoked: boolean; revokedAt: Date };

/**
 * Revokes a key of the client; the gateway refuses it from the next request (this process's gateway
 * drops it from its key cache at once; other instances within their cache's 500 ms). Revoking an already revoked
 * key changes nothing (revoked=false, the original date). A key id that is not this client's is not_found,
 * even if it exists elsewhere. Counters are kept.
 */
export async function revokeApiKey(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  keyId: string,
): Promise<RevokeResult> {
  const who = await assertCanManageKeys(db, viewer, clientId);
  const missing = () => notFound("That API key does not exist.");
  if (!isUuid(keyId)) throw missing();
  const [done] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`now()`, revokedBy: who.user.id })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId), isNull(apiKeys.revokedAt)))
    .returning({ revokedAt: apiKeys.revokedAt, keyHash: apiKeys.keyHash });
  if (done?.revokedAt) {
    processState().gateway?.forgetKey(done.keyHash);
    return { revoked: true, revokedAt: done.revokedAt };
  }
  const [existing] = await db
    .select({ revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId)))
    .limit(1);
  if (!existing?.revokedAt) throw missing();
  return { revoked: false, revokedAt: existing.revokedAt };
}
