/**
 * GET /v1/models/{model}: one usable model, or 404. Names may contain "/" (a catch-all segment); the
 * pipeline reads the name from the request path, so `org/name` and `org%2Fname` are the same model.
 */
import { defaultGateway, notAllowed } from "@/lib/gateway/pipeline";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export function GET(request: Request) {
  return defaultGateway().retrieveModel(request);
}

export const POST = notAllowed(["GET"]);
export const PUT = notAllowed(["GET"]);
export const PATCH = notAllowed(["GET"]);
export const DELETE = notAllowed(["GET"]);
