import { decode } from "next-auth/jwt";
import { originOf } from "./redirects";

/**
 * The console's session cookie, read the way Auth.js reads it, without the rest of Auth.js's session
 * request. Pages and actions ask for the session on every render (lib/auth/session.ts); Auth.js's
 * `auth()` answers that by building a Request, running its whole session action (the configuration with
 * every provider, the callbacks, a re-encrypted cookie that a server component cannot set) and reading
 * the answer's JSON back: a few milliseconds of every console page. The session itself is the cookie's
 * encrypted JWT, and this module decrypts it with Auth.js's own `decode` (JWE "dir" + A256CBC-HS512, key
 * derived from the session secret with the cookie's name as salt, `exp` checked with Auth.js's 15 s
 * tolerance). The JWT callback (lib/auth/index.ts) changes nothing on a read, so the claims are the
 * same ones `auth()` would give; whether the session is still open is checked against the database
 * as before (lib/auth/sessions.ts).
 *
 * The middleware keeps calling Auth.js (it rolls the cookie's expiry, which only a response can do),
 * and the cookie is only ever written by Auth.js.
 */

/**
 * Auth.js's session cookie name for this origin: `__Secure-` in front on https (Auth.js decides from
 * AUTH_URL, which lib/auth/base-config.ts sets from `app.base_url`).
 */
export function sessionCookieName(baseUrl: string): string {
  const secure = new URL(originOf(baseUrl)).protocol === "https:";
  return `${secure ? "__Secure-" : ""}authjs.session-token`;
}

/**
 * The session token from the request's cookies: the cookie `name`, or its chunks `name.0`, `name.1`, …
 * that Auth.js writes when the token is longer than a cookie may be. Joined exactly as Auth.js's
 * SessionStore joins them (every cookie whose name starts with `name`, ordered by the number after the
 * last dot), so that a page and the middleware always see the same token.
 */
export function sessionTokenOf(cookies: Iterable<{ name: string; value: string }>, name: string): string | null {
  const parts: { name: string; value: string }[] = [];
  for (const c of cookies) if (c.name.startsWith(name) && c.value) parts.push(c);
  if (parts.length === 0) return null;
  const suffix = (n: string) => parseInt(n.split(".").pop() || "0");
  parts.sort((a, b) => suffix(a.name) - suffix(b.name));
  return parts.map((c) => c.value).join("");
}

/**
 * The claims of a session cookie, or null when there is none or it does not decrypt (wrong secret,
 * tampered, expired). Never throws.
 */
export async function decodeSessionToken(token: string | null, secret: string, cookieName: string): Promise<Record<string, unknown> | null> {
  if (!token) return null;
  try {
    return (await decode({ token, secret, salt: cookieName })) as Record<string, unknown> | null;
  } catch {
    return null;
  }
}
