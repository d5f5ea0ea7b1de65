import { healthAnswer } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** 200 when the configuration is loaded and the database answers within api.db_timeout_ms; else 503. */
export async function GET() {
  const { status, body } = await healthAnswer();
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}
