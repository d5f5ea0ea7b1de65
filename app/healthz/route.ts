import { sql } from "drizzle-orm";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";

export const dynamic = "force-dynamic";

export async function GET() {
  const checks = { config: false, database: false };
  try {
    getConfig();
    checks.config = true;
  } catch {}
  try {
    const db = await getDb();
    await db.execute(sql`select 1`);
    checks.database = true;
  } catch {}
  const ok = checks.config && checks.database;
  return Response.json(ok ? { status: "ok" } : { status: "unavailable", checks }, {
    status: ok ? 200 : 503,
    headers: { "cache-control": "no-store" },
  });
}
