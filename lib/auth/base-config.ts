import type { NextAuthConfig } from "next-auth";
import { serverSecret } from "@/lib/secret";

/**
 * The part of the Auth.js configuration that needs no database: shared by the middleware (which only
 * reads the session cookie) and the full configuration in `lib/auth/index.ts`.
 */
export function baseAuthConfig(): NextAuthConfig {
  return {
    secret: serverSecret(),
    trustHost: true,
    session: { strategy: "jwt", maxAge: 30 * 24 * 60 * 60 },
    pages: { signIn: "/signin", error: "/signin" },
    providers: [],
    callbacks: {
      session({ session, token }) {
        if (token.uid && session.user) session.user.id = String(token.uid);
        return session;
      },
    },
  };
}

/** Reduces a requested return address to a same-origin path, so sign-in can never redirect elsewhere. */
export function safeCallbackPath(raw: unknown, fallback = "/clients"): string {
  if (typeof raw !== "string" || raw.length === 0) return fallback;
  let value = raw;
  try {
    if (/^[a-z][a-z0-9+.-]*:/i.test(value)) {
      const u = new URL(value);
      value = u.pathname + u.search + u.hash;
    }
  } catch {
    return fallback;
  }
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return fallback;
  if (value.startsWith("/api/auth") || value.startsWith("/signin")) return fallback;
  return value;
}
