import { randomUUID } from "node:crypto";
import { encode } from "next-auth/jwt";
import { describe, expect, it } from "vitest";
import { decodeSessionToken, sessionCookieName, sessionTokenOf } from "@/lib/auth/session-cookie";

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
