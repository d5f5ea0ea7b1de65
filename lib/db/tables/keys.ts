/** API keys and the secrets their rotations retired. */
import { index, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { ts, usageCounters } from "./columns";
import { clients } from "./clients";
import { users } from "./users";

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    clientId: uuid("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** HMAC-SHA256(server secret, plaintext key), hex. The plaintext is never stored. */
    keyHash: text("key_hash").notNull(),
    /** "sk_AbCd…wxyz" */
    hint: text("hint").notNull(),
    ...usageCounters(),
    lastUsedAt: ts("last_used_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    revokedAt: ts("revoked_at"),
    revokedBy: uuid("revoked_by").references(() => users.id, { onDelete: "set null" }),
    /** The key stops working at this instant (every secret of it); null: never. */
    expiresAt: ts("expires_at"),
    /** The last rotation: `key_hash` and `hint` then became a new secret (the old one is in api_key_retired_secrets). */
    rotatedAt: ts("rotated_at"),
    rotatedBy: uuid("rotated_by").references(() => users.id, { onDelete: "set null" }),
  },
  (t) => [
    uniqueIndex("api_keys_hash_idx").on(t.keyHash),
    index("api_keys_client_idx").on(t.clientId, t.createdAt),
  ],
);

/**
 * Secrets a rotation replaced. Each stays valid until `valid_until` (the grace the rotating person chose),
 * then answers 401 expired_api_key naming that time. Kept afterwards, so a late caller still learns why.
 * The gateway looks a presented hash up here and in api_keys in one statement.
 */
export const apiKeyRetiredSecrets = pgTable(
  "api_key_retired_secrets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    keyId: uuid("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    /** HMAC-SHA256 of the old secret, as in api_keys.key_hash. */
    keyHash: text("key_hash").notNull(),
    hint: text("hint").notNull(),
    retiredAt: ts("retired_at").notNull().defaultNow(),
    retiredBy: uuid("retired_by").references(() => users.id, { onDelete: "set null" }),
    validUntil: ts("valid_until").notNull(),
  },
  (t) => [
    uniqueIndex("api_key_retired_secrets_hash_idx").on(t.keyHash),
    index("api_key_retired_secrets_key_idx").on(t.keyId, t.validUntil),
  ],
);
