import type { NextAuthConfig } from "next-auth";
import { getConfig } from "@/lib/config";
import { sessionSecret } from "@/lib/secret";
import { originOf, safeRedirectPath } from "./redirects";

/** The session cookie's lifetime: `auth.session_hours` after its last use (rolling), at least a minute. */
export const sessionMaxAgeSeconds = (sessionHours: number) => Math.max(60, Math.round(sessionHours * 3600));

/**
 * The part of the Auth.js configuration that needs no database: shared by the middleware (which only
 * reads the session cookie) and the full configuration in `lib/auth/index.ts`. Built per request
 * from the live config.
 *
 * Origin: Auth.js builds its URLs (the OIDC redirect_uri, its own endpoints) and decides on Secure
 * cookies from AUTH_URL when it is set, else from the request's Host and X-Forwarded-* headers, which
 * a caller controls. So AUTH_URL is always set here from `app.base_url`; the environment variable is
 * the one Auth.js reads, and every bundle of this process shares it.
 */
export function baseAuthConfig(): NextAuthConfig {
  const config = getConfig();
  const origin = originOf(config.app.base_url);
  process.env.AUTH_URL = `${origin}/api/auth`;
  return {
    secret: sessionSecret(),
    trustHost: true,
    session: { strategy: "jwt", maxAge: sessionMaxAgeSeconds(config.auth.session_hours) },
    basePath: "/api/auth",
    // Auth.js's sign-in errors show on the sign-in page, every other failure on the error page
    // (both say why: lib/auth/errors.ts).
    pages: { signIn: "/signin", error: "/signin/error" },
    providers: [],
    callbacks: {
      session({ session, token }) {
        // The claims lib/auth/sessions.ts checks on every request, next to Auth.js's own fields.
        const out = session as typeof session & { uid?: unknown; sid?: unknown; sv?: unknown };
        out.uid = token.uid;
        out.sid = token.sid;
        out.sv = token.sv;
        if (token.uid && session.user) session.user.id = String(token.uid);
        return out;
      },
      // Every redirect Auth.js makes: same origin only, as a path.
      redirect({ url }) {
        return safeRedirectPath(url, origin);
      },
    },
  };
}
