import { health } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** 200 when the configuration is loaded and the database answers within api.db_timeout_ms; else 503. */
export async function GET() {
  const checks = await health();
  const ok = checks.config && checks.database;
  return Response.json(ok ? { status: "ok" } : { status: "unavailable", checks }, {
    status: ok ? 200 : 503,
    headers: { "cache-control": "no-store" },
  });
}
