import crypto from "node:crypto";
import { getConfig } from "@/lib/config";
import { metrics } from "@/lib/metrics";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

function sameToken(given: string, expected: string): boolean {
  const a = crypto.createHash("sha256").update(given).digest();
  const b = crypto.createHash("sha256").update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** Prometheus text format; 404 unless `metrics.enabled`, 401 without the configured bearer token. */
export async function GET(req: Request) {
  const config = getConfig().metrics;
  if (!config.enabled || !config.token) return new Response("Not Found\n", { status: 404 });
  const header = req.headers.get("authorization") ?? "";
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim() ?? "";
  if (!token || !sameToken(token, config.token)) {
    return new Response("Unauthorized\n", { status: 401, headers: { "www-authenticate": 'Bearer realm="metrics"' } });
  }
  const registry = metrics().registry;
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
}
