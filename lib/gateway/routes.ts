/**
 * The /v1 route table: the one place that says which method and path reach which gateway call.
 * server.ts (through node.ts) and the dev server's catch-all route (app/v1/[[...path]]/route.ts) both
 * resolve requests here, so the two can never disagree.
 *
 * Everything under /v1 is the gateway's: a path that is not in the table is 404 `not_found`, a known
 * path with another method 405 `method_not_allowed` (with `Allow`), both in OpenAI's error envelope —
 * never Next's HTML page and never a redirect. Paths match exactly: `/v1/chat/completions/` is not
 * `/v1/chat/completions` (OpenAI's API does not redirect either).
 *
 * Adding an endpoint is one line: its method, its path (a trailing `/*` takes one or more further
 * segments, e.g. model names containing "/") and the Gateway method that serves it.
 */
import type { Gateway } from "./pipeline";

/** The Gateway methods that serve routes. */
export type RouteHandlerName = "listModels" | "retrieveModel" | "chatCompletions" | "embeddings";

export interface Route {
  method: "GET" | "POST";
  path: string;
  handler: RouteHandlerName;
}

export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/v1/models", handler: "listModels" },
  { method: "GET", path: "/v1/models/*", handler: "retrieveModel" },
  { method: "POST", path: "/v1/chat/completions", handler: "chatCompletions" },
  { method: "POST", path: "/v1/embeddings", handler: "embeddings" },
];

export type RouteMatch =
  | { kind: "handler"; handler: RouteHandlerName }
  | { kind: "method_not_allowed"; allowed: string[] }
  | { kind: "not_found" };

/** Whether a request path belongs to the gateway (`/v1` and everything below it). */
export function isGatewayPath(pathname: string): boolean {
  return pathname === "/v1" || pathname.startsWith("/v1/");
}

function pathMatches(pattern: string, pathname: string): boolean {
  if (!pattern.endsWith("/*")) return pattern === pathname;
  const prefix = pattern.slice(0, -1); // keeps the "/"
  return pathname.length > prefix.length && pathname.startsWith(prefix) && !pathname.endsWith("/");
}

/** The route for a method and a path (no query string). HEAD is answered like GET would be refused. */
export function matchRoute(method: string | undefined, pathname: string): RouteMatch {
  const matching = ROUTES.filter((r) => pathMatches(r.path, pathname));
  if (matching.length === 0) return { kind: "not_found" };
  const route = matching.find((r) => r.method === method);
  if (route) return { kind: "handler", handler: route.handler };
  return { kind: "method_not_allowed", allowed: [...new Set(matching.map((r) => r.method))] };
}

/** The path part of a request target (`/v1/models?x` → `/v1/models`). */
export function pathOf(url: string): string {
  const q = url.indexOf("?");
  const h = url.indexOf("#");
  const end = Math.min(q === -1 ? url.length : q, h === -1 ? url.length : h);
  return url.slice(0, end);
}

type Handler = Gateway["listModels"];

/** The gateway call answering this request, or null when the path is not the gateway's. */
export function gatewayHandler(gateway: Gateway, method: string | undefined, url: string | undefined): Handler | null {
  if (!url) return null;
  const pathname = pathOf(url);
  if (!isGatewayPath(pathname)) return null;
  const match = matchRoute(method, pathname);
  if (match.kind === "handler") return gateway[match.handler];
  if (match.kind === "method_not_allowed") return gateway.methodNotAllowed(match.allowed);
  return gateway.notFound;
}
