import { randomUUID } from "node:crypto";
import { encode } from "next-auth/jwt";
import { describe, expect, it } from "vitest";
import { decode } from "next-auth/jwt";
import {
  checkSessionCookie,
  decodeSessionToken,
  RENEW_AFTER_SECONDS,
  sessionCookieName,
  sessionCookieOptions,
  sessionTokenOf,
} from "@/lib/auth/session-cookie";

const SECRET = "s".repeat(64);
const NAME = "authjs.session-token";
const cookie = (name: string, value: string) => ({ name, value });

describe("sessionCookieName: Auth.js's name for the origin of app.base_url", () => {
  it.each([
    ["http://127.0.0.1:3000", "authjs.session-token"],
    ["http://lumen.example/console", "authjs.session-token"],
    ["https://lumen.example", "__Secure-authjs.session-token"],
    ["https://lumen.example:8443/sub/path", "__Secure-authjs.session-token"],
  ])("%s → %s", (base, name) => {
    expect(sessionCookieName(base)).toBe(name);
  });
});

describe("sessionTokenOf", () => {
  it("the cookie itself; nothing without it or with an empty value", () => {
    expect(sessionTokenOf([cookie("other", "x"), cookie(NAME, "abc")], NAME)).toBe("abc");
    expect(sessionTokenOf([cookie("other", "x")], NAME)).toBeNull();
    expect(sessionTokenOf([cookie(NAME, "")], NAME)).toBeNull();
    expect(sessionTokenOf([cookie(`__Secure-${NAME}`, "abc")], NAME)).toBeNull();
  });

  it("chunks are joined in the order of their numbers, not of the header", () => {
    const jar = [cookie(`${NAME}.2`, "C"), cookie(`${NAME}.0`, "A"), cookie("x", "y"), cookie(`${NAME}.10`, "D"), cookie(`${NAME}.1`, "B")];
    expect(sessionTokenOf(jar, NAME)).toBe("ABCD");
  });
});

describe("decodeSessionToken", () => {
  const claims = { uid: randomUUID(), sid: randomUUID(), sv: 3 };

  it("gives the claims of a cookie Auth.js encoded with the same secret and name", async () => {
    const token = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: 3600 });
    expect(await decodeSessionToken(token, SECRET, NAME)).toMatchObject(claims);
  });

  it("null for no token, garbage, another secret, another cookie name (salt), an expired or a tampered token", async () => {
    const token = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: 3600 });
    expect(await decodeSessionToken(null, SECRET, NAME)).toBeNull();
    expect(await decodeSessionToken("not-a-token", SECRET, NAME)).toBeNull();
    expect(await decodeSessionToken(token, "t".repeat(64), NAME)).toBeNull();
    expect(await decodeSessionToken(token, SECRET, `__Secure-${NAME}`)).toBeNull();
    const expired = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: -60 });
    expect(await decodeSessionToken(expired, SECRET, NAME)).toBeNull();
    const parts = token.split(".");
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    for (const i of [0, 2, 3, 4]) {
      const tampered = parts.map((p, j) => (j === i ? flip(p) : p)).join(".");
      expect(await decodeSessionToken(tampered, SECRET, NAME)).toBeNull();
    }
  });

  it("within Auth.js's 15 s clock tolerance a just-expired token still reads, as it does for Auth.js", async () => {
    const token = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: -5 });
    expect(await decodeSessionToken(token, SECRET, NAME)).toMatchObject(claims);
  });
});

describe("checkSessionCookie: the middleware's check and roll of the cookie", () => {
  const claims = { uid: randomUUID(), sid: randomUUID(), sv: 1, email: "a@example.com", name: "A" };
  const DAY = 86_400;

  it("no cookie (or an empty one): signed out, nothing to clear", async () => {
    expect(await checkSessionCookie([cookie("x", "y")], NAME, SECRET, DAY)).toEqual({ kind: "none" });
    expect(await checkSessionCookie([cookie(NAME, "")], NAME, SECRET, DAY)).toEqual({ kind: "none" });
  });

  it("a cookie that does not decrypt: signed out, and the cookie is to be cleared", async () => {
    const other = await encode({ token: claims, secret: "t".repeat(64), salt: NAME, maxAge: 3600 });
    for (const value of ["garbage", other, await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: -60 })]) {
      expect(await checkSessionCookie([cookie(NAME, value)], NAME, SECRET, DAY)).toEqual({ kind: "invalid", names: [NAME] });
    }
  });

  it("a fresh token is valid and not re-issued", async () => {
    const token = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: DAY });
    expect(await checkSessionCookie([cookie(NAME, token)], NAME, SECRET, DAY)).toEqual({ kind: "valid", renewed: null });
  });

  it("a token older than a minute is re-issued: same claims, expiry maxAge from now, new iat and jti", async () => {
    const token = await encode({ token: claims, secret: SECRET, salt: NAME, maxAge: 600 });
    const later = Date.now() + (RENEW_AFTER_SECONDS + 5) * 1000;
    const check = await checkSessionCookie([cookie(NAME, token)], NAME, SECRET, DAY, later);
    expect(check.kind).toBe("valid");
    const renewed = check.kind === "valid" ? check.renewed : null;
    expect(renewed).toBeTruthy();
    const before = (await decode({ token, secret: SECRET, salt: NAME }))!;
    const after = (await decode({ token: renewed!, secret: SECRET, salt: NAME }))!;
    expect(after).toMatchObject(claims);
    expect(Math.abs(after.exp! - (Date.now() / 1000 + DAY))).toBeLessThan(5);
    expect(after.jti).not.toBe(before.jti);
    // encrypted for this cookie name only
    expect(await decodeSessionToken(renewed!, SECRET, `__Secure-${NAME}`)).toBeNull();
  });

  it("chunks, or a cookie beside its chunks, are left to Auth.js", async () => {
    expect(await checkSessionCookie([cookie(`${NAME}.0`, "a"), cookie(`${NAME}.1`, "b")], NAME, SECRET, DAY)).toEqual({ kind: "chunked" });
    expect(await checkSessionCookie([cookie(NAME, "a"), cookie(`${NAME}.0`, "b")], NAME, SECRET, DAY)).toEqual({ kind: "chunked" });
  });

  it("a renewal too long for one cookie is left to Auth.js", async () => {
    const long = { ...claims, name: "n".repeat(4000) };
    const token = await encode({ token: long, secret: SECRET, salt: NAME, maxAge: 600 });
    const later = Date.now() + (RENEW_AFTER_SECONDS + 5) * 1000;
    expect(await checkSessionCookie([cookie(NAME, token)], NAME, SECRET, DAY, later)).toEqual({ kind: "chunked" });
  });

  it("cookie attributes as Auth.js sets them: HttpOnly, SameSite=Lax, Path=/, Secure only for the __Secure- name", () => {
    const at = new Date();
    expect(sessionCookieOptions(NAME, at)).toEqual({ httpOnly: true, sameSite: "lax", path: "/", secure: false, expires: at });
    expect(sessionCookieOptions(`__Secure-${NAME}`, at).secure).toBe(true);
  });
});
