import { sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { clients } from "@/lib/db/schema";
import { upsertUser } from "@/lib/auth/users";
import { addManager } from "@/lib/clients/managers";
import { generateApiKey } from "@/lib/keys/api-key";
import { apiKeys, requestLog } from "@/lib/db/schema";

export const USERS = {
  admin: "admin@example.com",
  manager: "manager@example.com",
  plain: "plain@example.com",
} as const;

/** What the browser tests expect to find; written before the server starts. */
export async function seedE2e(db: Db, secret: string) {
  const admin = await upsertUser(db, { email: USERS.admin, name: "Ada Admin" });
  const manager = await upsertUser(db, { email: USERS.manager, name: "Max Manager" });
  await upsertUser(db, { email: USERS.plain, name: "Pat Plain" });
  const adminViewer = { user: admin, isAdmin: true };
  const rows = [
    { name: "research-bot", requests: 1200, inputTokens: 500_000, outputTokens: 250_000, coinsSpent: "312.500000" },
    { name: "data-pipeline", requests: 45_000, inputTokens: 9_000_000, outputTokens: 1_000_000, coinsSpent: "1234.567891" },
    { name: "ci-runner", requests: 7, inputTokens: 700, outputTokens: 300, coinsSpent: "0.001000", active: false },
    { name: "translation-bot", requests: 300, inputTokens: 30_000, outputTokens: 90_000, coinsSpent: "45.000000" },
    { name: "<script>alert(1)</script>", requests: 1, inputTokens: 10, outputTokens: 10, coinsSpent: "0.000020" },
  ];
  const ids: Record<string, string> = {};
  for (const [i, r] of rows.entries()) {
    const [row] = await db
      .insert(clients)
      .values({ ...r, createdAt: sql`now() - ${`${rows.length - i} days`}::interval` })
      .returning({ id: clients.id });
    ids[r.name] = row!.id;
  }
  await addManager(db, adminViewer, ids["research-bot"]!, manager.id);
  await addManager(db, adminViewer, ids["ci-runner"]!, manager.id);
  await addManager(db, adminViewer, ids["research-bot"]!, admin.id);
  const key = generateApiKey(secret);
  const [keyRow] = await db
    .insert(apiKeys)
    .values({ clientId: ids["research-bot"]!, name: "e2e", keyHash: key.hash, hint: key.hint, createdBy: admin.id })
    .returning({ id: apiKeys.id });
  // More keys than one page of the API keys table holds (KEY_LIST_LIMIT): data-pipeline's batch-01 … batch-30,
  // created a minute apart, newest last.
  await db.insert(apiKeys).values(
    Array.from({ length: 30 }, (_, i) => {
      const k = generateApiKey(secret);
      return {
        clientId: ids["data-pipeline"]!,
        name: `batch-${String(i + 1).padStart(2, "0")}`,
        keyHash: k.hash,
        hint: k.hint,
        createdBy: admin.id,
        createdAt: sql`now() - ${`${60 - i} minutes`}::interval`,
      };
    }),
  );
  // An hour of research-bot's history for the Recent requests section: 60 requests, every 10th failed.
  await db.insert(requestLog).values(
    Array.from({ length: 60 }, (_, i) => ({
      createdAt: sql`now() - ${`${120 - i} minutes`}::interval`,
      clientId: ids["research-bot"]!,
      keyId: keyRow!.id,
      model: "echo",
      status: i % 10 === 9 ? 502 : 200,
      errorCode: i % 10 === 9 ? "upstream_error" : null,
      inputTokens: 12 + i,
      outputTokens: i % 10 === 9 ? 0 : 30 + i,
      coins: `0.0000${String(40 + i).padStart(2, "0")}`,
      durationMs: 180 + 7 * i,
      ttftMs: i % 2 ? 40 + i : null,
      streamed: i % 2 === 1,
      usageEstimated: i % 20 === 19,
      requestId: `seed-${String(i).padStart(2, "0")}`,
    })),
  );
  return { clientIds: ids, apiKey: key.plaintext };
}
