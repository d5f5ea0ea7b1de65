/**
 * Authentication of gateway calls: `Authorization: Bearer <key>` → the key's client.
 *
 * Every call hashes the presented token (HMAC with the server secret) and looks the hash up with one
 * query on the unique hash index, so an unknown key costs the same work as a known one.
 *
 * Cache (chosen): successful lookups are kept in process for at most AUTH_CACHE_TTL_MS = 500 ms,
 * timed from the moment the lookup query *started*. A revocation, deactivation or rotation committed at
 * time T is therefore seen by every request that starts after T + 0.5 s on every instance (≤ 1 s, SPEC
 * issue #4). Misses are never cached (a flood of random keys cannot grow the map). A revocation,
 * deactivation, rotation or end of grace made by this process drops the entries at once (`forget`,
 * `forgetClient`), and a lookup that was already running then is not cached, so it cannot put the old
 * record back.
 *
 * Expiry and rotation grace are instants, not states: the record carries them (`expiresAt`, and
 * `secretValidUntil` for an old secret of a rotation) and every request compares them with the clock,
 * cached or not, so a key stops at its instant on every instance whose clock is right, cache or no cache.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Executor } from "@/lib/db/client";
import { findKeyByHash } from "@/lib/keys/queries";
import { hashApiKey } from "@/lib/keys/api-key";
import { clientDeactivated, expiredApiKey, invalidApiKey, missingApiKey, monitoringReadOnly } from "./errors";
import type { GatewayRequest } from "./request";

export const AUTH_CACHE_TTL_MS = 500;
const AUTH_CACHE_MAX_ENTRIES = 10_000;
/** A longer Authorization header is refused before any hashing (Lumen's keys are 46 characters). */
export const MAX_AUTHORIZATION_BYTES = 1024;

export interface Caller {
  keyId: string;
  clientId: string;
  clientName: string;
}

interface KeyRecord extends Caller {
  clientActive: boolean;
  revoked: boolean;
  /** Epoch ms; null: never. */
  expiresAt: number | null;
  /** Epoch ms when this secret is an old one of a rotation (the end of its grace); null for the current secret. */
  secretValidUntil: number | null;
}

/** The token of an `Authorization: Bearer …` header (scheme case-insensitive); null when absent or empty. */
export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const m = /^\s*bearer(?:\s+(.*))?$/i.exec(header);
  const token = m?.[1]?.trim();
  return token ? token : null;
}

/** The key's record (findKeyByHash: one query on the unique hash index); null when unknown. */
async function lookupKey(ex: Executor, hash: string): Promise<KeyRecord | null> {
  const row = await findKeyByHash(ex, hash);
  if (!row) return null;
  return {
    keyId: row.keyId,
    clientId: row.clientId,
    clientName: row.clientName,
    clientActive: row.clientActive,
    revoked: row.revokedAt !== null,
    expiresAt: row.expiresAt ? +row.expiresAt : null,
    secretValidUntil: row.secretValidUntil ? +row.secretValidUntil : null,
  };
}

export class KeyCache {
  private readonly entries = new Map<string, { record: KeyRecord; expiresAt: number }>();
  /** Bumped by every forget: a lookup that started before it must not be cached. */
  private generation = 0;

  constructor(readonly ttlMs: number = AUTH_CACHE_TTL_MS) {}

  /** Taken when a lookup starts; pass it to `set`. */
  get epoch(): number {
    return this.generation;
  }

  get(hash: string, now: number): KeyRecord | undefined {
    const hit = this.entries.get(hash);
    if (!hit) return undefined;
    if (hit.expiresAt > now) return hit.record;
    this.entries.delete(hash);
    return undefined;
  }

  /**
   * `startedAt`: when the lookup query started (the row may have changed any time after); `epoch`:
   * `this.epoch` at that moment (a forget since then means the record may be stale).
   */
  set(hash: string, record: KeyRecord, startedAt: number, epoch: number = this.generation): void {
    if (this.ttlMs <= 0 || epoch !== this.generation) return;
    if (this.entries.size >= AUTH_CACHE_MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(hash, { record, expiresAt: startedAt + this.ttlMs });
  }

  /** Drops one key (revoked in this process). */
  forget(hash: string): void {
    this.generation++;
    this.entries.delete(hash);
  }

  /** Drops every key of a client (deactivated or activated in this process). */
  forgetClient(clientId: string): void {
    this.generation++;
    for (const [hash, { record }] of this.entries) if (record.clientId === clientId) this.entries.delete(hash);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * Whether the request's bearer token is the monitoring token (`api.monitoring.token`). Compared in
 * constant time: both are hashed to 32-byte digests first, so neither the content nor the length of
 * the configured token shows in the timing.
 */
export function isMonitoringToken(request: GatewayRequest, configured: string | undefined): boolean {
  if (!configured) return false;
  const header = request.header("authorization");
  if (!header || header.length > MAX_AUTHORIZATION_BYTES) return false;
  const token = bearerToken(header);
  return token !== null && timingSafeEqual(sha256(token), sha256(configured));
}

/**
 * The caller of a gateway request, or a GatewayError: missing_api_key (401), invalid_api_key
 * (401, unknown or revoked key), expired_api_key (401, the key expired or this old secret's grace
 * ended, the message naming the instant), client_deactivated (403), and monitoring_read_only (403)
 * for the monitoring token (`monitoringToken`), which may only list models (models.ts). `clock` is for
 * tests.
 */
export async function authenticate(
  ex: Executor,
  request: GatewayRequest,
  cache?: KeyCache,
  clock: () => number = Date.now,
  monitoringToken?: string,
): Promise<Caller> {
  const header = request.header("authorization");
  if (header && header.length > MAX_AUTHORIZATION_BYTES) throw invalidApiKey();
  const token = bearerToken(header);
  if (!token) throw missingApiKey();
  if (isMonitoringToken(request, monitoringToken)) throw monitoringReadOnly();
  const hash = hashApiKey(token);
  const startedAt = clock();
  let record = cache?.get(hash, startedAt);
  if (!record) {
    const epoch = cache?.epoch;
    const found = await lookupKey(ex, hash);
    if (!found) throw invalidApiKey();
    record = found;
    cache?.set(hash, record, startedAt, epoch);
  }
  if (record.revoked) throw invalidApiKey();
  const now = clock();
  if (record.expiresAt !== null && now >= record.expiresAt) throw expiredApiKey("key", new Date(record.expiresAt));
  if (record.secretValidUntil !== null && now >= record.secretValidUntil) {
    throw expiredApiKey("rotated", new Date(record.secretValidUntil));
  }
  if (!record.clientActive) throw clientDeactivated();
  return { keyId: record.keyId, clientId: record.clientId, clientName: record.clientName };
}
