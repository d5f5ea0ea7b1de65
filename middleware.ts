import NextAuth from "next-auth";
import { NextResponse } from "next/server";
import { baseAuthConfig } from "@/lib/auth/base-config";

// Only a convenience: signed-out visitors are sent to sign-in and brought back. Every page, action
// and route re-checks rights on the server from the database and the live config.
const { auth } = NextAuth(() => baseAuthConfig());

export default auth((req) => {
  if (req.auth?.user) return NextResponse.next();
  const url = new URL("/signin", req.nextUrl.origin);
  url.searchParams.set("callbackUrl", req.nextUrl.pathname + req.nextUrl.search);
  return NextResponse.redirect(url);
});

export const config = {
  matcher: ["/clients", "/clients/:path*"],
  runtime: "nodejs",
};
