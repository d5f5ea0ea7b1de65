/** GET /v1/models: the models this key may use now. The pipeline lives in lib/gateway. */
import { defaultGateway, notAllowed } from "@/lib/gateway/pipeline";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export function GET(request: Request) {
  return defaultGateway().listModels(request);
}

export const POST = notAllowed(["GET"]);
export const PUT = notAllowed(["GET"]);
export const PATCH = notAllowed(["GET"]);
export const DELETE = notAllowed(["GET"]);
