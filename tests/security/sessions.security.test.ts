/**
 * Sign-in, sessions and redirects over real HTTP: same-origin redirect targets only (never a 500),
 * the origin from app.base_url whatever X-Forwarded-* say, forged cookies, sessions that end on
 * "Sign out", "Sign out everywhere" and expiry, cookie flags, cross-origin server-action POSTs.
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { hkdf } from "@panva/hkdf";
import { base64url, calculateJwkThumbprint, EncryptJWT } from "jose";
import { decode, encode } from "next-auth/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { action, as, baseURL, form, get, SESSION_COOKIE, setCookies, signIn, snapshot, sql, type Browser } from "./http";
import { SECRET } from "./server";

const HOSTILE_TARGETS = [
  "/\t/localhost:3999/phish",
  "/\n/localhost:3999/phish",
  "/\r\nSet-Cookie: pwned=1",
  "//evil.example/phish",
  "/\\evil.example/phish",
  "\\\\evil.example/phish",
  "https://evil.example/phish",
  "http://127.0.0.1:1/clients",
  "/.//evil.example/phish",
  "javascript:alert(document.cookie)",
  "data:text/html,<script>alert(1)</script>",
  "/" + "x".repeat(5000),
];
/** [a short name for the test title, the target]. */
const HOSTILE = HOSTILE_TARGETS.map((t) => [JSON.stringify(t).slice(0, 48), t] as const);

/**
 * The server's session secret: the suite knows its root secret, so it can sign and read cookies exactly
 * as the server does.
 */
async function serverSessionSecret(): Promise<string> {
  process.env.LUMEN_SECRET = SECRET;
  process.env.LUMEN_CONFIG = inject("configFile");
  process.env.LUMEN_DATA_DIR = path.join(os.tmpdir(), `lumen-security-mint-${process.pid}`);
  return (await import("@/lib/secret")).sessionSecret();
}

const pathOf = (location: string | null) => (location ? new URL(location, baseURL()).pathname : null);
const sameOrigin = (location: string | null) => location !== null && new URL(location, baseURL()).origin === baseURL();

describe("redirect targets", () => {
  it.each(HOSTILE)("signed in, /signin?callbackUrl=%s → /clients", async (_name, target) => {
    const res = await get(`/signin?callbackUrl=${encodeURIComponent(target)}`, await as("admin"));
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("/clients");
  });

  it("signed in, a same-origin target is kept (path, query and hash)", async () => {
    const res = await get(`/signin?callbackUrl=${encodeURIComponent("/clients?q=bot&page=2#top")}`, await as("admin"));
    expect(res.headers.get("location")).toBe("/clients?q=bot&page=2#top");
  });

  it.each(HOSTILE)("signed out, the form carries /clients for %s", async (_name, target) => {
    const res = await get(`/signin?callbackUrl=${encodeURIComponent(target)}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('name="callbackUrl" value="/clients"');
  });

  it.each(HOSTILE)("the sign-in form's action with callbackUrl %s lands on /clients", async (_name, target) => {
    const b = await signIn(`redirect-${randomUUID()}@example.com`, target);
    expect(b.answer.redirect).toBe("/clients");
  });

  it("the sign-in form refuses an invalid e-mail next to the field, keeps what was typed, and sends nobody anywhere", async () => {
    const answer = await action("devSignIn", [{}, form({ email: "not-an-e-mail", name: "Eve", callbackUrl: "/clients" })], { page: "/signin" });
    expect(answer.status).toBe(200);
    expect(answer.result).toEqual({ ok: false, errors: { email: ["Enter a valid e-mail address"] }, values: { email: "not-an-e-mail", name: "Eve" } });
    expect(answer.redirect).toBeNull();
  });

  it.each(HOSTILE)("Auth.js's own endpoint with callbackUrl %s lands on /clients", async (_name, target) => {
    const csrf = await fetch(`${baseURL()}/api/auth/csrf`);
    const { csrfToken } = (await csrf.json()) as { csrfToken: string };
    const res = await fetch(`${baseURL()}/api/auth/callback/dev`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: setCookies(csrf).get("authjs.csrf-token")!.pair, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfToken, email: "endpoint@example.com", callbackUrl: target }),
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/clients");
  });
});

describe("the origin comes from app.base_url, never from forwarded headers (trust_proxy is off)", () => {
  const forged = { "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", forwarded: "host=evil.example;proto=https" };

  it("sign-in redirects stay on this origin", async () => {
    const b = await signIn("forwarded@example.com", "/clients");
    expect(b.answer.redirect).toBe("/clients");
    const res = await fetch(`${baseURL()}/signin`, { redirect: "manual", headers: { ...forged, cookie: b.cookie } });
    expect(sameOrigin(res.headers.get("location"))).toBe(true);
  });

  it("the signed-out redirect to sign-in stays on this origin", async () => {
    const res = await get("/clients/x", null, forged);
    expect(res.status).toBe(307);
    expect(sameOrigin(res.headers.get("location"))).toBe(true);
    expect(res.headers.get("location")).not.toContain("evil");
  });

  it("Auth.js builds its URLs from base_url, whatever Host and X-Forwarded-* say", async () => {
    // Exactly base_url: Next no longer rewrites 127.0.0.1 to "localhost" (next.config.mjs), so the
    // OIDC redirect_uri is the one registered at the provider.
    const expected = baseURL();
    for (const headers of [forged, { host: "evil.example" }]) {
      const res = await get("/api/auth/providers", null, headers);
      const providers = (await res.json()) as Record<string, { signinUrl: string; callbackUrl: string }>;
      expect(providers.dev!.signinUrl).toBe(`${expected}/api/auth/signin/dev`);
      expect(providers.dev!.callbackUrl).toBe(`${expected}/api/auth/callback/dev`);
    }
  });

  it("a sign-in through Auth.js's endpoint with forged headers lands here, with plain-http cookie names", async () => {
    const csrf = await fetch(`${baseURL()}/api/auth/csrf`, { headers: forged });
    const { csrfToken } = (await csrf.json()) as { csrfToken: string };
    const res = await fetch(`${baseURL()}/api/auth/callback/dev`, {
      method: "POST",
      redirect: "manual",
      headers: { ...forged, cookie: setCookies(csrf).get("authjs.csrf-token")!.pair, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfToken, email: "forwarded@example.com", callbackUrl: "/clients" }),
    });
    expect(res.headers.get("location")).toBe("/clients");
    expect(setCookies(res).has(SESSION_COOKIE)).toBe(true);
  });
});

describe("session cookies", () => {
  it("are HttpOnly, SameSite=Lax, not Secure on plain http, and last auth.session_hours (12)", async () => {
    const b = await signIn("flags@example.com");
    const raw = b.setCookie;
    expect(raw).toMatch(/;\s*HttpOnly/i);
    expect(raw).toMatch(/;\s*SameSite=Lax/i);
    expect(raw).toMatch(/;\s*Path=\//i);
    expect(raw).not.toMatch(/;\s*Secure/i);
    const expires = Date.parse(/Expires=([^;]+)/i.exec(raw)![1]!);
    expect(Math.abs(expires - (Date.now() + 12 * 3_600_000))).toBeLessThan(5 * 60_000);
  });
});

describe("the middleware rolls the session cookie forward (as Auth.js does, once it is a minute old)", () => {
  let secret: string;
  beforeAll(async () => {
    secret = await serverSessionSecret();
  });

  /** The cookie's token as Auth.js encrypts it (@auth/core/jwt encode), issued `ageSeconds` ago. */
  async function issued(claims: Record<string, unknown>, ageSeconds: number, lifeSeconds: number): Promise<string> {
    const key = await hkdf("sha256", secret, SESSION_COOKIE, `Auth.js Generated Encryption Key (${SESSION_COOKIE})`, 64);
    const kid = await calculateJwkThumbprint({ kty: "oct", k: base64url.encode(key) }, "sha512");
    const now = Math.floor(Date.now() / 1000);
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512", kid })
      .setIssuedAt(now - ageSeconds)
      .setExpirationTime(now + lifeSeconds)
      .setJti(randomUUID())
      .encrypt(key);
  }

  it("a token issued two minutes ago: the page, and a new cookie that lasts auth.session_hours with Auth.js's flags", async () => {
    const b = await signIn(`roll-${randomUUID()}@example.com`);
    const claims = await decode({ token: b.cookie.slice(SESSION_COOKIE.length + 1), secret, salt: SESSION_COOKIE });
    const old = await issued({ uid: claims!.uid, sid: claims!.sid, sv: claims!.sv, email: b.email }, 120, 600);
    const res = await get("/clients", { email: b.email, cookie: `${SESSION_COOKIE}=${old}` });
    expect([200, 403]).toContain(res.status);
    const set = setCookies(res).get(SESSION_COOKIE);
    expect(set).toBeDefined();
    expect(set!.raw).toMatch(/;\s*HttpOnly/i);
    expect(set!.raw).toMatch(/;\s*SameSite=Lax/i);
    expect(set!.raw).toMatch(/;\s*Path=\//i);
    expect(set!.raw).not.toMatch(/;\s*Secure/i);
    const expires = Date.parse(/Expires=([^;]+)/i.exec(set!.raw)![1]!);
    expect(Math.abs(expires - (Date.now() + 12 * 3_600_000))).toBeLessThan(5 * 60_000);
    const renewed = await decode({ token: set!.pair.slice(SESSION_COOKIE.length + 1), secret, salt: SESSION_COOKIE });
    expect(renewed).toMatchObject({ uid: claims!.uid, sid: claims!.sid, sv: claims!.sv, email: b.email });
    expect(Math.abs(renewed!.exp! - (Date.now() / 1000 + 12 * 3600))).toBeLessThan(300);
    // The new cookie is a session on its own.
    expect((await get("/signin", { email: b.email, cookie: set!.pair })).status).toBe(307);
  });

  it("a fresh token: the page, and no new cookie", async () => {
    const b = await signIn(`fresh-${randomUUID()}@example.com`);
    const res = await get("/clients", b);
    expect([200, 403]).toContain(res.status);
    expect(setCookies(res).has(SESSION_COOKIE)).toBe(false);
  });

  it("a token that does not decrypt: sent to sign-in, and the cookie is cleared", async () => {
    const res = await get("/clients/x?tab=keys", { email: "garbage", cookie: `${SESSION_COOKIE}=garbage` });
    expect(res.status).toBe(307);
    const location = new URL(res.headers.get("location")!, baseURL());
    expect(location.origin + location.pathname).toBe(`${baseURL()}/signin`);
    expect(location.searchParams.get("callbackUrl")).toBe("/clients/x?tab=keys");
    const cleared = setCookies(res).get(SESSION_COOKIE);
    expect(cleared?.pair).toBe(`${SESSION_COOKIE}=`);
    expect(cleared!.raw).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
  });
});

describe("forged cookies", () => {
  let mint: (claims: Record<string, unknown>) => Promise<string>;
  let mintSecret: string;
  beforeAll(async () => {
    // Signed exactly as the server would: proof that a validly signed cookie without a live session is still refused.
    const secret = (mintSecret = await serverSessionSecret());
    mint = (claims) => encode({ token: claims, secret, salt: SESSION_COOKIE, maxAge: 3600 });
  });

  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const forgeries: Array<[string, () => Promise<string>]> = [
    ["alg:none", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ uid: randomUUID(), email: "admin@example.com" })}.`],
    ["garbage", async () => "not-a-token"],
    [
      "encrypted with another secret",
      async () => encode({ token: { uid: randomUUID(), sid: randomUUID(), sv: 0 }, secret: "x".repeat(48), salt: SESSION_COOKIE }),
    ],
  ];

  it.each(forgeries)("%s: sent to sign-in, and no action runs", async (_name, make) => {
    const browser: Browser = { email: "forger", cookie: `${SESSION_COOKIE}=${await make()}` };
    const page = await get("/clients", browser);
    expect(page.status).toBe(307);
    expect(pathOf(page.headers.get("location"))).toBe("/signin");
    const before = await snapshot();
    const answer = await action("createClientAction", [{}, form({ name: "forged-client" })], { browser });
    expect(answer.status).toBe(307);
    expect(await snapshot()).toBe(before);
  });

  // Pages outside /clients (the sign-in page) read the cookie themselves (lib/auth/session-cookie.ts),
  // without the middleware's Auth.js check in front: signed in there means redirected away from the form.
  it.each(forgeries)("%s: the sign-in page shows its form (not signed in)", async (_name, make) => {
    const res = await get("/signin", { email: "forger", cookie: `${SESSION_COOKIE}=${await make()}` });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('name="callbackUrl"');
  });

  it("a live session's cookie: the sign-in page sends it on, also when split in chunks as Auth.js writes long cookies", async () => {
    const b = await signIn(`chunks-${randomUUID()}@example.com`);
    const token = b.cookie.slice(SESSION_COOKIE.length + 1);
    expect((await get("/signin", b)).status).toBe(307);
    const half = Math.floor(token.length / 2);
    // Sent out of order: the chunks' numbers decide (Auth.js's SessionStore rule, which the middleware uses).
    const chunked: Browser = { email: b.email, cookie: `${SESSION_COOKIE}.1=${token.slice(half)}; ${SESSION_COOKIE}.0=${token.slice(0, half)}` };
    expect((await get("/signin", chunked)).status).toBe(307);
    expect((await get("/clients", chunked)).status).not.toBe(307);
    const swapped: Browser = { email: b.email, cookie: `${SESSION_COOKIE}.0=${token.slice(half)}; ${SESSION_COOKIE}.1=${token.slice(0, half)}` };
    expect((await get("/signin", swapped)).status).toBe(200);
    expect((await get("/clients", swapped)).status).toBe(307);
  });

  it("a live session's token is only read from its cookie: not from Authorization, not under another cookie name", async () => {
    const b = await signIn(`elsewhere-${randomUUID()}@example.com`);
    const token = b.cookie.slice(SESSION_COOKIE.length + 1);
    const bearer = await fetch(`${baseURL()}/signin`, { redirect: "manual", headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(200);
    // This server's base_url is http: Auth.js names the cookie without __Secure-.
    expect((await get("/signin", { email: b.email, cookie: `__Secure-${SESSION_COOKIE}=${token}` })).status).toBe(200);
    expect((await get("/clients", { email: b.email, cookie: `__Secure-${SESSION_COOKIE}=${token}` })).status).toBe(307);
  });

  it("a correctly signed cookie of a live session whose JWT has expired is refused by the page and the middleware", async () => {
    const b = await signIn(`expired-jwt-${randomUUID()}@example.com`);
    const db = sql();
    try {
      const [row] = await db`select s.id as sid, s.user_id as uid, u.session_version as sv from user_sessions s join users u on u.id = s.user_id where u.email = ${b.email}`;
      const claims = { uid: row!.uid, sid: row!.sid, sv: Number(row!.sv) };
      const live = `${SESSION_COOKIE}=${await mint(claims)}`;
      expect((await get("/signin", { email: b.email, cookie: live })).status).toBe(307);
      // exp a minute ago: beyond Auth.js's 15 s clock tolerance.
      const expired = `${SESSION_COOKIE}=${await encode({ token: claims, secret: mintSecret, salt: SESSION_COOKIE, maxAge: -60 })}`;
      expect((await get("/signin", { email: b.email, cookie: expired })).status).toBe(200);
      expect((await get("/clients", { email: b.email, cookie: expired })).status).toBe(307);
    } finally {
      await db.end();
    }
  });

  it("a correctly signed cookie naming the admin but no live session is refused", async () => {
    const adminId = inject("seed").users.admin;
    const browser: Browser = { email: "minted", cookie: `${SESSION_COOKIE}=${await mint({ uid: adminId, sid: randomUUID(), sv: 0 })}` };
    const page = await get("/clients", browser);
    expect(page.status).toBe(307);
    expect(pathOf(page.headers.get("location"))).toBe("/signin");
    const before = await snapshot();
    const answer = await action("createClientAction", [{}, form({ name: "minted-client" })], { browser });
    // The action runs with no viewer: refused as forbidden (the 403 page), nothing created.
    expect(answer.status).toBe(403);
    expect(answer.text).toContain("NEXT_HTTP_ERROR_FALLBACK;403");
    expect(await snapshot()).toBe(before);
  });
});

describe("sessions end", () => {
  /** Signed in: the console answers (a user who manages nothing gets its 403 page), not a redirect to sign-in. */
  const works = async (b: Browser) => {
    const res = await get("/clients", b);
    if (res.status === 307) expect(pathOf(res.headers.get("location"))).toBe("/signin");
    return res.status === 403 || res.status === 200;
  };
  const email = () => `session-${randomUUID()}@example.com`;
  it("Sign out ends that session (a copied cookie stops working); the user's other sessions go on", async () => {
    const who = email();
    const first = await signIn(who);
    const second = await signIn(who);
    expect(await works(first)).toBe(true);
    const out = await action("signOutAction", [], { browser: first, page: "/clients" });
    expect(out.redirect).toBe("/signin");
    expect(await works(first)).toBe(false);
    expect(await works(second)).toBe(true);
  });

  it("Sign out everywhere ends every session of the user", async () => {
    const who = email();
    const first = await signIn(who);
    const second = await signIn(who);
    const out = await action("signOutEverywhereAction", [], { browser: first, page: "/clients" });
    expect(out.redirect).toBe("/signin?signedOut=everywhere");
    expect(await works(first)).toBe(false);
    expect(await works(second)).toBe(false);
    expect(await works(await signIn(who))).toBe(true);
  });

  it("an expired session is refused; a used one rolls forward by auth.session_hours", async () => {
    const who = email();
    const b = await signIn(who);
    const db = sql();
    try {
      await db`update user_sessions set expires_at = now() + interval '1 hour' where user_id = (select id from users where email = ${who})`;
      expect(await works(b)).toBe(true);
      const [rolled] = await db`select extract(epoch from expires_at - now())::int as left from user_sessions where user_id = (select id from users where email = ${who})`;
      expect(Number(rolled!.left)).toBeGreaterThan(11 * 3600);
      await db`update user_sessions set expires_at = now() - interval '1 second' where user_id = (select id from users where email = ${who})`;
      expect(await works(b)).toBe(false);
    } finally {
      await db.end();
    }
  });

  it("a session of an older session version is refused", async () => {
    const who = email();
    const b = await signIn(who);
    const db = sql();
    try {
      await db`update users set session_version = session_version + 1 where email = ${who}`;
      expect(await works(b)).toBe(false);
    } finally {
      await db.end();
    }
  });
});

describe("cross-origin server-action POSTs", () => {
  it.each(["http://evil.example", "null", `${baseURL === undefined ? "" : "http://127.0.0.1:1"}`])("Origin %s is refused and changes nothing", async (origin) => {
    const before = await snapshot();
    const answer = await action("createClientAction", [{}, form({ name: "cross-origin" })], { browser: await as("admin"), origin });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(await snapshot()).toBe(before);
  });
});
