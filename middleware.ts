import NextAuth from "next-auth";
import { NextResponse, type NextFetchEvent, type NextRequest } from "next/server";
import { baseAuthConfig } from "@/lib/auth/base-config";

// Only a convenience: signed-out visitors are sent to sign-in and brought back. Every page, action
// and route re-checks rights on the server from the database and the live config.
const { auth } = NextAuth(() => baseAuthConfig());

// With a lazily built config, auth(handler) resolves to the wrapped handler.
const handler = auth((req) => {
  if (req.auth?.user) return NextResponse.next();
  const url = new URL("/signin", req.nextUrl.origin);
  url.searchParams.set("callbackUrl", req.nextUrl.pathname + req.nextUrl.search);
  return NextResponse.redirect(url);
}) as unknown as Promise<(req: NextRequest, ev: NextFetchEvent) => Promise<Response>>;

export default async function middleware(req: NextRequest, ev: NextFetchEvent) {
  return (await handler)(req, ev);
}

export const config = {
  matcher: ["/clients", "/clients/:path*"],
  runtime: "nodejs",
};
