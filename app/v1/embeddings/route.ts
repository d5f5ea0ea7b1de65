/** POST /v1/embeddings, billed on input tokens. The pipeline lives in lib/gateway. */
import { defaultGateway, notAllowed } from "@/lib/gateway/pipeline";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export function POST(request: Request) {
  return defaultGateway().embeddings(request);
}

export const GET = notAllowed(["POST"]);
export const PUT = notAllowed(["POST"]);
export const PATCH = notAllowed(["POST"]);
export const DELETE = notAllowed(["POST"]);
