import NextAuth from "next-auth";
import { NextRequest, NextResponse, type NextFetchEvent } from "next/server";
import { baseAuthConfig } from "@/lib/auth/base-config";
import { originOf } from "@/lib/auth/redirects";
import { getConfig } from "@/lib/config";
import { commonSecurityHeaders, contentSecurityPolicy, cspNonce } from "@/lib/http/security-headers";

/**
 * Every console page: security headers with a fresh CSP nonce (lib/http/security-headers.ts; Next
 * reads the nonce from the request's CSP header and puts it on its scripts). Under /clients also a
 * convenience: signed-out visitors are sent to sign-in and brought back. Every page, action and route
 * re-checks rights on the server from the database and the live config. Never imports the database.
 */
const { auth } = NextAuth(() => baseAuthConfig());

/** The page itself, with the nonce passed on to Next in the request's CSP header. */
function next(req: NextRequest, csp: string): NextResponse {
  const headers = new Headers(req.headers);
  headers.set("content-security-policy", csp);
  return NextResponse.next({ request: { headers } });
}

const isSection = (pathname: string) => pathname === "/clients" || pathname.startsWith("/clients/");

// With a lazily built config, auth(handler) resolves to the wrapped handler.
const signedInOnly = auth((req) => {
  const csp = req.headers.get("content-security-policy") ?? "";
  if (req.auth?.user) return next(req, csp);
  // On the public origin (app.base_url), never one from Host or X-Forwarded-*; Next turns a redirect
  // to the request's own origin into a relative Location.
  const target = new URL("/signin", originOf(getConfig().app.base_url));
  target.searchParams.set("callbackUrl", req.nextUrl.pathname + req.nextUrl.search);
  return NextResponse.redirect(target);
}) as unknown as Promise<(req: NextRequest, ev: NextFetchEvent) => Promise<Response>>;

export default async function middleware(req: NextRequest, ev: NextFetchEvent) {
  const config = getConfig();
  const oidc = config.auth.oidc?.issuer;
  const csp = contentSecurityPolicy(cspNonce(), {
    formActions: oidc ? [new URL(oidc).origin] : [],
    dev: process.env.NODE_ENV === "development",
  });
  let response: Response;
  if (isSection(req.nextUrl.pathname)) {
    const headers = new Headers(req.headers);
    headers.set("content-security-policy", csp);
    response = await (await signedInOnly)(new NextRequest(req, { headers }), ev);
  } else {
    response = next(req, csp);
  }
  response.headers.set("content-security-policy", csp);
  for (const [name, value] of Object.entries(commonSecurityHeaders(config.app.base_url))) response.headers.set(name, value);
  return response;
}

export const config = {
  // Pages only: not the API (/v1, /api/auth, /healthz, /metrics) nor Next's static files.
  matcher: ["/((?!v1(?:/|$)|api/|healthz|metrics|_next/static|_next/image|icon\\.svg|favicon\\.ico).*)"],
  runtime: "nodejs",
};
