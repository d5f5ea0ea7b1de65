import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { devLoginRefusal } from "@/lib/auth/dev-login";
import { afterSignInPath, safeRedirectPath } from "@/lib/auth/redirects";
import { checkOidcIdentity, claimIsTrue } from "@/lib/auth/users";
import { parseConfigText } from "@/lib/config";
import { restrictModes } from "@/lib/data-dir";
import { KeyCache } from "@/lib/gateway/auth";
import { isLoopbackHost, isLoopbackUrl } from "@/lib/http/loopback";
import { commonSecurityHeaders, contentSecurityPolicy, cspNonce } from "@/lib/http/security-headers";
import { keyPepper, resetSecretsForTests, sessionSecret } from "@/lib/secret";

const ORIGIN = "http://localhost:3000";
const config = (yaml: string) => parseConfigText(yaml, "config.yaml").config;

describe("redirect targets (item 2)", () => {
  it.each([
    ["/\t/localhost:3999/phish", "/clients"],
    ["/%09/localhost:3999/phish", "/%09/localhost:3999/phish"], // still encoded: a path on this origin
    ["/\n/evil.example", "/clients"],
    ["/\r\nSet-Cookie: x=1", "/clients"],
    ["//evil.example/x", "/clients"],
    ["/\\evil.example", "/clients"],
    ["\\\\evil.example", "/clients"],
    ["https://evil.example/phish", "/clients"],
    ["http://localhost:3000@evil.example/", "/clients"],
    ["http://localhost:3001/clients", "/clients"],
    ["/.//evil.example", "/clients"],
    ["/a/..//evil.example", "/clients"],
    ["javascript:alert(1)", "/clients"],
    ["data:text/html,<script>alert(1)</script>", "/clients"],
    ["", "/clients"],
    [undefined, "/clients"],
    [42, "/clients"],
    ["/clients/abc?sort=name&order=asc#keys", "/clients/abc?sort=name&order=asc#keys"],
    ["http://localhost:3000/clients?q=bot", "/clients?q=bot"],
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
  ])("%j → %s", (raw, expected) => {
    expect(safeRedirectPath(raw, ORIGIN)).toBe(expected);
  });

  it("after sign-in never goes back to sign-in or Auth.js", () => {
    expect(afterSignInPath("/signin?callbackUrl=/signin", ORIGIN)).toBe("/clients");
    expect(afterSignInPath("/api/auth/signout", ORIGIN)).toBe("/clients");
    expect(afterSignInPath("/clients/x", ORIGIN)).toBe("/clients/x");
  });

  it("never throws on hostile input", () => {
    for (let i = 0; i < 2000; i++) {
      const raw = crypto.randomBytes(12).toString("latin1");
      const out = safeRedirectPath(raw, ORIGIN);
      expect(out.startsWith("/") && !out.startsWith("//")).toBe(true);
    }
  });
});

describe("development sign-in exposure (item 1)", () => {
  const on = config("auth: {dev_login: true}\n");
  it("is allowed on loopback only", () => {
    expect(devLoginRefusal(on, ["127.0.0.1", "::1"], {})).toBeNull();
    expect(devLoginRefusal(on, ["localhost"], {})).toBeNull();
    expect(devLoginRefusal(on, undefined, {})).toBeNull();
  });
  it("refuses a non-loopback bind or base_url, saying how to fix it", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.20", "lumen.example.org"]) {
      const msg = devLoginRefusal(on, [host], {});
      expect(msg).toContain(host);
      expect(msg).toContain("auth.oidc");
      expect(msg).toContain("LUMEN_ALLOW_DEV_LOGIN=1");
    }
    const remote = config("app: {base_url: 'https://lumen.example.org'}\nauth: {dev_login: true}\n");
    expect(devLoginRefusal(remote, ["127.0.0.1"], {})).toContain("app.base_url (https://lumen.example.org) is not a loopback URL");
  });
  it("LUMEN_ALLOW_DEV_LOGIN=1 is a deliberate override; dev_login false needs none", () => {
    expect(devLoginRefusal(on, ["0.0.0.0"], { LUMEN_ALLOW_DEV_LOGIN: "1" })).toBeNull();
    expect(devLoginRefusal(on, ["0.0.0.0"], { LUMEN_ALLOW_DEV_LOGIN: "true" })).not.toBeNull();
    expect(devLoginRefusal(config("auth: {dev_login: false}\n"), ["0.0.0.0"], {})).toBeNull();
  });
  it("knows loopback hosts and URLs", () => {
    expect(["localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]", "::ffff:127.0.0.1"].every(isLoopbackHost)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "example.org", "127.0.0.1.nip.io"].some(isLoopbackHost)).toBe(false);
    expect(isLoopbackUrl("http://localhost:3000")).toBe(true);
    expect(isLoopbackUrl("http://localhost.evil.example")).toBe(false);
    expect(isLoopbackUrl("not a url")).toBe(false);
  });
});

describe("OIDC identities (item 3)", () => {
  const policy = { require_verified_email: true };
  const id = { issuer: "https://id.example.org", subject: "u1", email: "Ada@Example.org", emailVerified: true };
  it("needs a verified e-mail by default", () => {
    expect(checkOidcIdentity(id, policy)).toBeNull();
    expect(checkOidcIdentity({ ...id, emailVerified: false }, policy)).toBe("EmailNotVerified");
    expect(checkOidcIdentity({ ...id, emailVerified: false }, { require_verified_email: false })).toBeNull();
    expect(checkOidcIdentity({ ...id, email: null }, policy)).toBe("EmailMissing");
  });
  it("limits domains when allowed_domains is set", () => {
    expect(checkOidcIdentity(id, { ...policy, allowed_domains: ["example.org"] })).toBeNull();
    expect(checkOidcIdentity({ ...id, email: "x@evil.example.org" }, { ...policy, allowed_domains: ["example.org"] })).toBe("DomainNotAllowed");
    expect(checkOidcIdentity({ ...id, email: "x@example.org.evil" }, { ...policy, allowed_domains: ["example.org"] })).toBe("DomainNotAllowed");
  });
  it("reads email_verified as providers send it", () => {
    expect([true, "true"].every(claimIsTrue)).toBe(true);
    expect([false, "false", 1, undefined, null, "yes"].some(claimIsTrue)).toBe(false);
  });
  it("configures the policy and session lifetime", () => {
    const c = config(
      "auth:\n  session_hours: 8\n  oidc: {issuer: 'https://id.example.org', client_id: l, allowed_domains: [Example.ORG]}\n",
    );
    expect(c.auth.session_hours).toBe(8);
    expect(c.auth.oidc).toMatchObject({ require_verified_email: true, allowed_domains: ["example.org"] });
    expect(config("").auth.session_hours).toBe(12);
    expect(() => config("auth: {session_hours: 0}\n")).toThrow(/auth.session_hours/);
    expect(() => config("auth: {oidc: {issuer: 'https://i.example', client_id: l, allowed_domains: ['not a domain']}}\n")).toThrow(
      /allowed_domains/,
    );
  });
});

describe("security headers (item 6)", () => {
  it("every console answer: nosniff, same-origin referrer, permissions, no framing; HSTS only on https", () => {
    const plain = commonSecurityHeaders("http://localhost:3000");
    expect(plain).toMatchObject({
      "x-content-type-options": "nosniff",
      "referrer-policy": "same-origin",
      "x-frame-options": "DENY",
    });
    expect(plain["permissions-policy"]).toContain("camera=()");
    expect(plain["strict-transport-security"]).toBeUndefined();
    expect(commonSecurityHeaders("https://lumen.example.org")["strict-transport-security"]).toBe("max-age=31536000");
  });
  it("pages: nonce scripts, no framing, no plugins, no base tag", () => {
    const nonce = cspNonce();
    expect(nonce).not.toBe(cspNonce());
    const csp = contentSecurityPolicy(nonce, { formActions: ["https://id.example.org"] });
    expect(csp).toContain(`script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("form-action 'self' https://id.example.org");
    expect(csp).not.toContain("unsafe-eval");
  });
});

describe("data at rest (item 7)", () => {
  let dir = "";
  const saved = { ...process.env };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lumen-secrets-"));
    for (const k of ["LUMEN_SECRET", "AUTH_SECRET", "LUMEN_KEY_PEPPER"]) delete process.env[k];
    process.env.LUMEN_DATA_DIR = dir;
    resetSecretsForTests();
  });
  afterEach(() => {
    process.env = { ...saved };
    resetSecretsForTests();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mode = (p: string) => fs.statSync(p).mode & 0o777;

  it("restrictModes makes the folder 0700 and its files 0600", () => {
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, "pgdata", "base"), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(dir, "pgdata", "base", "1"), "x", { mode: 0o666 });
    fs.chmodSync(path.join(dir, "pgdata", "base", "1"), 0o666);
    expect(restrictModes(dir)).toBeGreaterThan(0);
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, "pgdata", "base"))).toBe(0o700);
    expect(mode(path.join(dir, "pgdata", "base", "1"))).toBe(0o600);
    expect(restrictModes(dir)).toBe(0);
  });

  it("a fresh install gets two independent secrets, both files 0600", () => {
    const session = sessionSecret();
    const pepper = keyPepper();
    const root = fs.readFileSync(path.join(dir, "secret"), "utf8").trim();
    expect(pepper).not.toBe(root);
    expect(session).not.toBe(root);
    expect(mode(path.join(dir, "secret"))).toBe(0o600);
    expect(mode(path.join(dir, "key-pepper"))).toBe(0o600);
  });

  it("an install from before the split keeps hashing keys with its old secret; rotating the secret only changes sessions", () => {
    const old = crypto.randomBytes(32).toString("base64url");
    fs.writeFileSync(path.join(dir, "secret"), old + "\n", { mode: 0o600 });
    expect(keyPepper()).toBe(old); // today's keys: HMAC with the old secret
    const firstSession = sessionSecret();
    // Rotate: a new root secret.
    fs.writeFileSync(path.join(dir, "secret"), crypto.randomBytes(32).toString("base64url") + "\n");
    resetSecretsForTests();
    expect(keyPepper()).toBe(old);
    expect(sessionSecret()).not.toBe(firstSession);
  });

  it("environment secrets: the pepper is LUMEN_KEY_PEPPER, else LUMEN_SECRET (as before); each at least 32 bytes", () => {
    process.env.LUMEN_SECRET = "s".repeat(32);
    expect(keyPepper()).toBe("s".repeat(32));
    expect(fs.existsSync(path.join(dir, "key-pepper"))).toBe(false);
    resetSecretsForTests();
    process.env.LUMEN_KEY_PEPPER = "p".repeat(40);
    expect(keyPepper()).toBe("p".repeat(40));
    const session = sessionSecret();
    resetSecretsForTests();
    process.env.LUMEN_SECRET = "t".repeat(32); // rotating the session secret leaves the pepper alone
    expect(keyPepper()).toBe("p".repeat(40));
    expect(sessionSecret()).not.toBe(session);
    for (const [name, value] of [
      ["LUMEN_SECRET", "short-secret"],
      ["AUTH_SECRET", "x".repeat(31)],
      ["LUMEN_KEY_PEPPER", "short"],
    ] as const) {
      resetSecretsForTests();
      for (const k of ["LUMEN_SECRET", "AUTH_SECRET", "LUMEN_KEY_PEPPER"]) delete process.env[k];
      process.env[name] = value;
      expect(() => keyPepper()).toThrow(new RegExp(`${name} is too short: it needs at least 32 bytes`));
    }
  });
});

describe("the gateway's key cache (item 9)", () => {
  const record = { keyId: "k1", clientId: "c1", clientName: "bot", clientActive: true, revoked: false, expiresAt: null, secretValidUntil: null };
  it("forgets a revoked key at once, and a lookup already running then cannot put it back", () => {
    const cache = new KeyCache(500);
    const now = Date.now();
    cache.set("hash", record, now);
    expect(cache.get("hash", now)).toBe(record);
    const epoch = cache.epoch; // a lookup starts…
    cache.forget("hash"); // …the key is revoked meanwhile
    expect(cache.get("hash", now)).toBeUndefined();
    cache.set("hash", record, now, epoch); // …the lookup ends with the old row
    expect(cache.get("hash", now)).toBeUndefined();
  });
  it("forgets every key of a deactivated client", () => {
    const cache = new KeyCache(500);
    const now = Date.now();
    cache.set("a", record, now);
    cache.set("b", { ...record, keyId: "k2" }, now);
    cache.set("c", { ...record, keyId: "k3", clientId: "c2" }, now);
    cache.forgetClient("c1");
    expect([cache.get("a", now), cache.get("b", now)]).toEqual([undefined, undefined]);
    expect(cache.get("c", now)).toBeDefined();
  });
});
