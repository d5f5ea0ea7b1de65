/**
 * Every /v1 request under `next dev` / `next start`, resolved by the one route table
 * (lib/gateway/routes.ts) that server.ts also uses: unknown paths answer 404 `not_found`, other
 * methods 405 `method_not_allowed`, in OpenAI's error envelope. (The production server answers /v1
 * without Next; see server.ts.)
 */
import { defaultGateway } from "@/lib/gateway/pipeline";
import { gatewayHandler } from "@/lib/gateway/routes";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

function serve(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const gateway = defaultGateway();
  const handler = gatewayHandler(gateway, request.method, url.pathname + url.search) ?? gateway.notFound;
  return handler(request);
}

export const GET = serve;
export const POST = serve;
export const PUT = serve;
export const PATCH = serve;
export const DELETE = serve;
export const HEAD = serve;
export const OPTIONS = serve;
