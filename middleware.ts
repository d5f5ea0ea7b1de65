import NextAuth from "next-auth";
import { NextRequest, NextResponse, type NextFetchEvent } from "next/server";
import { baseAuthConfig, sessionMaxAgeSeconds } from "@/lib/auth/base-config";
import { originOf } from "@/lib/auth/redirects";
import { checkSessionCookie, sessionCookieName, sessionCookieOptions } from "@/lib/auth/session-cookie";
import { getConfig } from "@/lib/config";
import type { LumenConfig } from "@/lib/config/schema";
import { commonSecurityHeaders, contentSecurityPolicy, cspNonce } from "@/lib/http/security-headers";
import { sessionSecret } from "@/lib/secret";

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

/** To sign-in, and back here after it. */
function toSignIn(req: NextRequest, baseUrl: string): NextResponse {
  // On the public origin (app.base_url), never one from Host or X-Forwarded-*.
  const target = new URL("/signin", originOf(baseUrl));
  target.searchParams.set("callbackUrl", req.nextUrl.pathname + req.nextUrl.search);
  return NextResponse.redirect(target);
}

// Auth.js's own middleware: for a session token in chunks (lib/auth/session-cookie.ts leaves those to it).
// With a lazily built config, auth(handler) resolves to the wrapped handler.
const signedInOnly = auth((req) => {
  const csp = req.headers.get("content-security-policy") ?? "";
  return req.auth?.user ? next(req, csp) : toSignIn(req, getConfig().app.base_url);
}) as unknown as Promise<(req: NextRequest, ev: NextFetchEvent) => Promise<Response>>;

/**
 * A page of the section: signed out → sign-in; signed in → the page, with the session cookie's
 * expiry rolled forward (checkSessionCookie: Auth.js's decoding and cookie, without its whole session
 * request on every page).
 */
async function sectionPage(req: NextRequest, ev: NextFetchEvent, csp: string, config: LumenConfig): Promise<Response> {
  const name = sessionCookieName(config.app.base_url);
  const maxAge = sessionMaxAgeSeconds(config.auth.session_hours);
  const check = await checkSessionCookie(req.cookies.getAll(), name, sessionSecret(), maxAge);
  if (check.kind === "chunked") {
    const headers = new Headers(req.headers);
    headers.set("content-security-policy", csp);
    return (await signedInOnly)(new NextRequest(req, { headers }), ev);
  }
  if (check.kind === "valid") {
    const response = next(req, csp);
    if (check.renewed) response.cookies.set(name, check.renewed, sessionCookieOptions(name, new Date(Date.now() + maxAge * 1000)));
    return response;
  }
  const response = toSignIn(req, config.app.base_url);
  if (check.kind === "invalid") {
    for (const stale of check.names) response.cookies.set(stale, "", { ...sessionCookieOptions(stale, new Date(0)), maxAge: 0 });
  }
  return response;
}

export default async function middleware(req: NextRequest, ev: NextFetchEvent) {
  const config = getConfig();
  const oidc = config.auth.oidc?.issuer;
  const csp = contentSecurityPolicy(cspNonce(), {
    formActions: oidc ? [new URL(oidc).origin] : [],
    dev: process.env.NODE_ENV === "development",
  });
  let response: Response;
  if (isSection(req.nextUrl.pathname)) {
    response = await sectionPage(req, ev, csp, config);
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
