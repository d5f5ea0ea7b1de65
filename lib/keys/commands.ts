import { isUuid } from "@/lib/ids";
import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Db, Executor } from "@/lib/db/client";
import { apiKeyRetiredSecrets, apiKeys, clients } from "@/lib/db/schema";
import { canViewClient, type Viewer } from "@/lib/auth/permissions";
import { emitAudit, recordAudit } from "@/lib/audit/events";
import { getConfig } from "@/lib/config";
import { DomainError, forbidden, notFound } from "@/lib/errors";
import { GRACE_CHOICES, GRACE_MESSAGE, parseGrace, resolveExpiry, type ExpiryInput } from "./expiry";
import { generateApiKey } from "./api-key";
import { KEY_NAME_MAX } from "@/lib/name-limits";
import { typedNameSchema } from "@/lib/names";
import { processState } from "@/lib/process-state";

/** Control characters, line/paragraph separators and bidi overrides: invisible or misleading in a list. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

/** A key's name (SPEC §4): trimmed, 1–KEY_NAME_MAX printable characters, e.g. "production", "Jane's laptop". */
export const keyNameSchema = typedNameSchema(KEY_NAME_MAX, (name) =>
  UNPRINTABLE.test(name) ? ["Use only printable characters (no line breaks or control characters)."] : [],
);

/** Commands take the time from here, so tests can set it; the gateway compares against the same instants. */
export interface KeyCommandOptions {
  now?: Date;
  /** `keys.max_lifetime_days`; undefined reads the live config, null means no cap. */
  maxLifetimeDays?: number | null;
}

export interface CreatedApiKey {
  id: string;
  name: string;
  hint: string;
  /** The only time the key exists outside the caller's hands: return it to the user, never store or log it. */
  plaintext: string;
  expiresAt: Date | null;
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
 * Creates a key for the client, expiring as chosen (resolveExpiry, capped by `keys.max_lifetime_days`).
 * Names are unique (ignoring case) among the client's usable keys — neither revoked nor expired; the
 * check runs under a lock on the client row, so two concurrent creations cannot both take a name.
 * Field errors come back together: `name`, `expiry`, `expiresOn`.
 */
export async function createApiKey(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  rawName: unknown,
  rawExpiry: ExpiryInput = {},
  opts: KeyCommandOptions = {},
): Promise<CreatedApiKey> {
  const now = opts.now ?? new Date();
  const parsed = keyNameSchema.safeParse(rawName);
  const result = await db.transaction(async (tx) => {
    const who = await assertCanManageKeys(tx, viewer, clientId);
    const maxDays = opts.maxLifetimeDays !== undefined ? opts.maxLifetimeDays : (getConfig().keys.max_lifetime_days ?? null);
    const expiry = resolveExpiry(rawExpiry, now, maxDays);
    const fieldErrors: Record<string, string[]> = {};
    if (!parsed.success) fieldErrors.name = parsed.error.issues.map((i) => i.message);
    if (!expiry.ok) fieldErrors[expiry.field] = [expiry.message];
    if (!parsed.success || !expiry.ok) throw new DomainError("invalid", "Check the form.", fieldErrors);
    const name = parsed.data;
    const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.id, clientId)).for("update");
    if (!client) throw notFound("That client does not exist.");
    const [clash] = await tx
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.clientId, clientId), usableAt(now), sql`lower(${apiKeys.name}) = lower(${name})`))
      .limit(1);
    if (clash) {
      throw new DomainError("invalid", "Check the name.", {
        name: [`A key named “${name}” already exists for this client. Choose another name or revoke that key first.`],
      });
    }
    const key = generateApiKey();
    const [row] = await tx
      .insert(apiKeys)
      .values({ clientId, name, keyHash: key.hash, hint: key.hint, createdBy: who.user.id, createdAt: now, expiresAt: expiry.expiresAt })
      .returning({ id: apiKeys.id });
    if (!row) throw new Error("insert returned nothing");
    const audit = await recordAudit(tx, who, {
      clientId,
      action: "key.created",
      target: { type: "key", id: row.id, label: name },
      details: { hint: key.hint, expiresAt: expiry.expiresAt?.toISOString() ?? null },
    });
    return { created: { id: row.id, name, hint: key.hint, plaintext: key.plaintext, expiresAt: expiry.expiresAt }, audit };
  });
  emitAudit(result.audit);
  return result.created;
}

/** Neither revoked nor expired at `now`. */
function usableAt(now: Date) {
  return and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)));
}

export type RevokeResult = { revoked: boolean; revokedAt: Date };

/**
 * This process's gateway forgets the given secrets at once (after the commit: a lookup between a forget
 * and the commit would cache the old state again); other instances' caches expire within 500 ms.
 */
function forgetSecrets(hashes: readonly string[]): void {
  const gateway = processState().gateway;
  for (const hash of hashes) gateway?.forgetKey(hash);
}

/** The key's old secrets still in their grace (they are cached under their own hashes). */
async function graceHashes(tx: Executor, keyId: string): Promise<string[]> {
  const found = await tx
    .select({ hash: apiKeyRetiredSecrets.keyHash })
    .from(apiKeyRetiredSecrets)
    .where(and(eq(apiKeyRetiredSecrets.keyId, keyId), gt(apiKeyRetiredSecrets.validUntil, sql`now()`)));
  return found.map((f) => f.hash);
}

/**
 * Revokes a key of the client; the gateway refuses it (and every old secret of it) from the next request
 * (this process's gateway at once, other instances within their cache's 500 ms). Revoking an already
 * revoked key changes nothing (revoked=false, the original date, no activity row). A key id that is not
 * this client's is not_found, even if it exists elsewhere. Counters are kept.
 */
export async function revokeApiKey(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  keyId: string,
): Promise<RevokeResult> {
  const result = await db.transaction(async (tx) => {
    const who = await assertCanManageKeys(tx, viewer, clientId);
    const missing = () => notFound("That API key does not exist.");
    if (!isUuid(keyId)) throw missing();
    const [done] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()`, revokedBy: who.user.id })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId), isNull(apiKeys.revokedAt)))
      .returning({ revokedAt: apiKeys.revokedAt, name: apiKeys.name, hint: apiKeys.hint, keyHash: apiKeys.keyHash });
    if (done?.revokedAt) {
      const audit = await recordAudit(tx, who, {
        clientId,
        action: "key.revoked",
        target: { type: "key", id: keyId, label: done.name },
        details: { hint: done.hint },
      });
      const hashes = [done.keyHash, ...(await graceHashes(tx, keyId))];
      return { out: { revoked: true, revokedAt: done.revokedAt }, audit, hashes };
    }
    const [existing] = await tx
      .select({ revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId)))
      .limit(1);
    if (!existing?.revokedAt) throw missing();
    return { out: { revoked: false, revokedAt: existing.revokedAt }, audit: null, hashes: [] };
  });
  forgetSecrets(result.hashes);
  if (result.audit) emitAudit(result.audit);
  return result.out;
}

export interface RotatedApiKey extends CreatedApiKey {
  /** The replaced secret's hint, and when it stops working (now, for "Immediately"). */
  oldHint: string;
  oldValidUntil: Date;
}

/**
 * Gives a key a new secret: same id, name, expiry, counters and history. The old secret goes to
 * api_key_retired_secrets and keeps working for the chosen grace (`GRACE_CHOICES`), then answers 401
 * expired_api_key. Under a lock on the key row, so two rotations run one after the other (the second
 * retires the first one's new secret, with its own grace). Revoked and expired keys cannot be rotated.
 */
export async function rotateApiKey(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  keyId: string,
  rawGrace: unknown,
  opts: Pick<KeyCommandOptions, "now"> = {},
): Promise<RotatedApiKey> {
  const now = opts.now ?? new Date();
  const result = await db.transaction(async (tx) => {
    const who = await assertCanManageKeys(tx, viewer, clientId);
    if (!isUuid(keyId)) throw notFound("That API key does not exist.");
    const grace = parseGrace(rawGrace);
    if (!grace) throw new DomainError("invalid", "Check the form.", { grace: [GRACE_MESSAGE] });
    const [key] = await tx
      .select({ name: apiKeys.name, hint: apiKeys.hint, keyHash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt, expiresAt: apiKeys.expiresAt })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId)))
      .for("update");
    if (!key) throw notFound("That API key does not exist.");
    if (key.revokedAt) throw new DomainError("invalid", "This key was revoked, so it cannot be rotated. Create a new key instead.");
    if (key.expiresAt && key.expiresAt <= now) {
      throw new DomainError("invalid", "This key has expired, so it cannot be rotated. Create a new key instead.");
    }
    const oldValidUntil = new Date(+now + GRACE_CHOICES[grace].ms);
    await tx.insert(apiKeyRetiredSecrets).values({
      keyId,
      keyHash: key.keyHash,
      hint: key.hint,
      retiredAt: now,
      retiredBy: who.user.id,
      validUntil: oldValidUntil,
    });
    const fresh = generateApiKey();
    await tx
      .update(apiKeys)
      .set({ keyHash: fresh.hash, hint: fresh.hint, rotatedAt: now, rotatedBy: who.user.id })
      .where(eq(apiKeys.id, keyId));
    const audit = await recordAudit(tx, who, {
      clientId,
      action: "key.rotated",
      target: { type: "key", id: keyId, label: key.name },
      details: { oldHint: key.hint, newHint: fresh.hint, grace, oldSecretValidUntil: oldValidUntil.toISOString() },
    });
    const rotated: RotatedApiKey = {
      id: keyId,
      name: key.name,
      hint: fresh.hint,
      plaintext: fresh.plaintext,
      expiresAt: key.expiresAt,
      oldHint: key.hint,
      oldValidUntil,
    };
    return { rotated, audit, oldHash: key.keyHash };
  });
  // Cached as the key's current secret: from now on it must be looked up again, as an old one.
  forgetSecrets([result.oldHash]);
  emitAudit(result.audit);
  return result.rotated;
}

/**
 * Ends the grace of a key's old secrets now ("End grace now", once every service has the new secret).
 * Returns how many old secrets it stopped; none left in grace changes nothing and records nothing.
 */
export async function endKeyGrace(
  db: Db,
  viewer: Viewer | null,
  clientId: string,
  keyId: string,
  opts: Pick<KeyCommandOptions, "now"> = {},
): Promise<{ ended: number }> {
  const now = opts.now ?? new Date();
  const result = await db.transaction(async (tx) => {
    const who = await assertCanManageKeys(tx, viewer, clientId);
    if (!isUuid(keyId)) throw notFound("That API key does not exist.");
    const [key] = await tx
      .select({ name: apiKeys.name })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.clientId, clientId)))
      .for("update");
    if (!key) throw notFound("That API key does not exist.");
    const ended = await tx
      .update(apiKeyRetiredSecrets)
      .set({ validUntil: now })
      .where(and(eq(apiKeyRetiredSecrets.keyId, keyId), gt(apiKeyRetiredSecrets.validUntil, now)))
      .returning({ hint: apiKeyRetiredSecrets.hint, hash: apiKeyRetiredSecrets.keyHash });
    if (ended.length === 0) return { ended: 0, audit: null, hashes: [] };
    const audit = await recordAudit(tx, who, {
      clientId,
      action: "key.grace_ended",
      target: { type: "key", id: keyId, label: key.name },
      details: { oldHints: ended.map((e) => e.hint), endedAt: now.toISOString() },
    });
    return { ended: ended.length, audit, hashes: ended.map((e) => e.hash) };
  });
  forgetSecrets(result.hashes);
  if (result.audit) emitAudit(result.audit);
  return { ended: result.ended };
}
