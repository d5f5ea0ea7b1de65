/**
 * Security headers of the console (SPEC §10). One module decides them; middleware.ts sets them on
 * every page with a fresh CSP nonce, and server.ts sets the non-CSP ones on every other answer
 * (static files, route handlers) too.
 */

/** Features the console never uses, switched off for it and anything it might embed. */
const PERMISSIONS_POLICY = [
  "accelerometer=()",
  "autoplay=()",
  "camera=()",
  "display-capture=()",
  "geolocation=()",
  "gyroscope=()",
  "magnetometer=()",
  "microphone=()",
  "midi=()",
  "payment=()",
  "publickey-credentials-get=()",
  "usb=()",
  "xr-spatial-tracking=()",
].join(", ");

/** Headers for every answer of the console's origin. HSTS only when the public URL is https. */
export function commonSecurityHeaders(baseUrl: string): Record<string, string> {
  const headers: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": PERMISSIONS_POLICY,
    // For browsers without CSP frame-ancestors.
    "x-frame-options": "DENY",
  };
  if (baseUrl.toLowerCase().startsWith("https:")) headers["strict-transport-security"] = "max-age=31536000";
  return headers;
}

/** A fresh nonce for one page answer (128 random bits). */
export function cspNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The Content-Security-Policy of a console page. Scripts run only with this answer's nonce (Next
 * puts it on its own scripts) and what they load ('strict-dynamic'); no page can be framed.
 * Styles allow inline `style` attributes (progress bars, charts, Radix positioning), which cannot
 * run code. `formActions`: extra origins forms may post or redirect to (the OIDC provider, whose
 * sign-in page the OIDC button's form ends on). `dev`: `next dev` needs eval and its HMR socket.
 */
export function contentSecurityPolicy(nonce: string, opts: { formActions?: string[]; dev?: boolean } = {}): string {
  const directives = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${opts.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${opts.dev ? " ws: wss:" : ""}`,
    "object-src 'none'",
    "base-uri 'none'",
    `form-action 'self'${opts.formActions?.length ? ` ${opts.formActions.join(" ")}` : ""}`,
    "frame-ancestors 'none'",
  ];
  return directives.join("; ");
}
