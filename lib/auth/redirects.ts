/**
 * Where the console may send a browser after sign-in (the `callbackUrl` of /signin, Auth.js's
 * redirects). A requested target is parsed as a URL against the console's own origin
 * (`app.base_url`); only a same-origin target survives, reduced to its path, query and hash. Anything
 * else — another origin, a scheme-relative `//host`, control characters (browsers drop tabs and
 * newlines, so `/\t/evil` becomes `//evil`), backslashes (read as `/` by browsers) — falls back to
 * /clients. The result is always a path that starts with exactly one "/", so it can never leave the
 * origin, and it never raises (a bad target is not a 500).
 */
export const DEFAULT_AFTER_SIGN_IN = "/clients";

const UNSAFE = /[\u0000-\u001f\u007f\\]/;
const MAX_LENGTH = 2048;

export function safeRedirectPath(raw: unknown, origin: string, fallback: string = DEFAULT_AFTER_SIGN_IN): string {
  if (typeof raw !== "string" || raw === "" || raw.length > MAX_LENGTH || UNSAFE.test(raw)) return fallback;
  let url: URL;
  try {
    url = new URL(raw, `${origin}/`);
  } catch {
    return fallback;
  }
  if (url.origin !== origin) return fallback;
  // "/.//evil" resolves to the path "//evil": in a Location header that names another host.
  if (url.pathname.startsWith("//")) return fallback;
  return url.pathname + url.search + url.hash;
}

/** Where to go once signed in: a safe same-origin path, never back to sign-in (that would loop). */
export function afterSignInPath(raw: unknown, origin: string): string {
  const path = safeRedirectPath(raw, origin);
  const pathname = path.split(/[?#]/, 1)[0]!;
  if (pathname === "/signin" || pathname.startsWith("/signin/") || pathname === "/api/auth" || pathname.startsWith("/api/auth/")) {
    return DEFAULT_AFTER_SIGN_IN;
  }
  return path;
}

/** The console's public origin (`scheme://host[:port]`) from app.base_url. */
export function originOf(baseUrl: string): string {
  return new URL(baseUrl).origin;
}
