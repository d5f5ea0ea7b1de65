import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { rows } from "@/lib/db/client";
import { apiKeys } from "@/lib/db/schema";
import { generateApiKey } from "@/lib/keys/api-key";

/** Inserts a key directly with given counters (usage is normally written by the gateway). */
export async function insertKey(
  db: Db,
  clientId: string,
  name: string,
  opts: { requests?: number; input?: number; output?: number; coins?: string; createdAt?: Date; revokedAt?: Date; lastUsedAt?: Date } = {},
) {
  const key = generateApiKey();
  const [row] = await db
    .insert(apiKeys)
    .values({
      clientId,
      name,
      keyHash: key.hash,
      hint: key.hint,
      requests: opts.requests ?? 0,
      inputTokens: opts.input ?? 0,
      outputTokens: opts.output ?? 0,
      coinsSpent: opts.coins ?? "0",
      createdAt: opts.createdAt ?? new Date(),
      revokedAt: opts.revokedAt ?? null,
      lastUsedAt: opts.lastUsedAt ?? null,
    })
    .returning();
  if (!row) throw new Error("insert failed");
  return { row, plaintext: key.plaintext, hash: key.hash };
}

export async function keysOf(db: Db, clientId: string) {
  return db.select().from(apiKeys).where(eq(apiKeys.clientId, clientId)).orderBy(apiKeys.createdAt, apiKeys.id);
}

/** Every api_keys row as PostgreSQL renders it (row_to_json), for "is this string stored anywhere?" checks. */
export async function apiKeysAsText(db: Db): Promise<string> {
  const found = await rows<{ j: string }>(db, sql`select row_to_json(k)::text as j from api_keys k`);
  return found.map((r) => r.j).join("\n");
}
