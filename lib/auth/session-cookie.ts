import { decode, encode } from "next-auth/jwt";

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
 * The middleware (middleware.ts) checks the cookie the same way and rolls its expiry forward
 * (checkSessionCookie): what Auth.js's middleware does, without re-encrypting the cookie on every
 * page (only once it is a minute old). The cookie is otherwise written by Auth.js (sign-in, sign-out).
 */

/**
 * Auth.js's session cookie name for this origin: `__Secure-` in front on https (Auth.js decides from
 * AUTH_URL, which lib/auth/base-config.ts sets from `app.base_url`).
 */
export function sessionCookieName(baseUrl: string): string {
  return `${new URL(baseUrl).protocol === "https:" ? "__Secure-" : ""}authjs.session-token`;
}

/** The cookies Auth.js's SessionStore counts as the session's: every non-empty one whose name starts with `name`. */
const sessionCookiesOf = (cookies: Iterable<{ name: string; value: string }>, name: string) =>
  [...cookies].filter((c) => c.name.startsWith(name) && c.value);

/**
 * The session token from the request's cookies: the cookie `name`, or its chunks `name.0`, `name.1`, …
 * that Auth.js writes when the token is longer than a cookie may be. Joined exactly as Auth.js's
 * SessionStore joins them (every cookie whose name starts with `name`, ordered by the number after the
 * last dot), so that a page and the middleware always see the same token.
 */
export function sessionTokenOf(cookies: Iterable<{ name: string; value: string }>, name: string): string | null {
  const parts = sessionCookiesOf(cookies, name);
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

/** A valid session token younger than this is not re-issued (Auth.js re-issues it on every request). */
export const RENEW_AFTER_SECONDS = 60;

/**
 * The longest token Auth.js writes as one cookie (its SessionStore's CHUNK_SIZE: 4,096 bytes less 160
 * for the cookie's attributes); a longer one it splits into chunks.
 */
const MAX_SINGLE_COOKIE = 4096 - 160;

/** The session cookie's attributes, as Auth.js sets them (defaultCookies in @auth/core). */
export function sessionCookieOptions(name: string, expires: Date) {
  return { httpOnly: true, sameSite: "lax" as const, path: "/", secure: name.startsWith("__Secure-"), expires };
}

export type SessionCookieCheck =
  /** No session cookie: signed out. */
  | { kind: "none" }
  /** Cookies that do not decrypt (forged, another secret, expired): signed out; `names` are to be cleared, as Auth.js clears them. */
  | { kind: "invalid"; names: string[] }
  /** Signed in (as far as the cookie goes); `renewed`: the re-issued token to set, null while the one presented is fresh. */
  | { kind: "valid"; renewed: string | null }
  /** A token in chunks, or one whose renewal would need chunks: left to Auth.js, which writes those. */
  | { kind: "chunked" };

/**
 * The middleware's check of the session cookie, as Auth.js's session request makes it: the token
 * decrypted (decodeSessionToken), and a valid one re-issued with its expiry `maxAgeSeconds` from now
 * (Auth.js: `session.maxAge`, lib/auth/base-config.ts), the same claims, a new `iat` and `jti`.
 * Unlike Auth.js, a token issued less than RENEW_AFTER_SECONDS ago is not re-issued: its expiry then
 * lags the last use by under a minute of `auth.session_hours`. Whether the session is still open is
 * not the cookie's to say: pages and actions check that in the database (lib/auth/session.ts).
 */
export async function checkSessionCookie(
  cookies: Iterable<{ name: string; value: string }>,
  name: string,
  secret: string,
  maxAgeSeconds: number,
  now = Date.now(),
): Promise<SessionCookieCheck> {
  const present = sessionCookiesOf(cookies, name);
  if (present.length === 0) return { kind: "none" };
  if (present.length > 1 || present[0]!.name !== name) return { kind: "chunked" };
  const claims = await decodeSessionToken(present[0]!.value, secret, name);
  if (!claims) return { kind: "invalid", names: [name] };
  const issued = typeof claims.iat === "number" ? claims.iat : 0;
  if (now / 1000 - issued < RENEW_AFTER_SECONDS) return { kind: "valid", renewed: null };
  const renewed = await encode({ token: claims, secret, salt: name, maxAge: maxAgeSeconds });
  if (renewed.length > MAX_SINGLE_COOKIE) return { kind: "chunked" };
  return { kind: "valid", renewed };
}
