import { describe, expect, it } from "vitest";
import { GENERIC_SIGN_IN_ERROR, SIGN_IN_ERRORS, signInErrorMessage, signInErrorPath } from "@/lib/auth/errors";
import { groupsOf, idTokenClaims, isAdminByGroups, oidcIdentity, oidcProvider } from "@/lib/auth/oidc";
import { parseConfigText } from "@/lib/config/load";

const oidcOf = (yaml: string) => {
  const { config } = parseConfigText(`auth:\n  oidc: ${yaml}\n`, "config.yaml");
  return config.auth.oidc!;
};
const base = oidcOf(`{issuer: "https://id.example.org", client_id: lumen, admin_groups: [lumen-admins]}`);
const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("the OIDC provider", () => {
  it("checks PKCE, state and nonce, and asks the userinfo endpoint too", () => {
    const p = oidcProvider(base) as unknown as { checks: string[]; idToken: boolean; authorization: { params: { scope: string } } };
    expect(p.checks).toEqual(["pkce", "state", "nonce"]);
    expect(p.idToken).toBe(false);
    expect(p.authorization.params.scope).toBe("openid email profile");
  });

  it("asks for the configured scopes; a scope list without openid is a config error", () => {
    expect(oidcOf(`{issuer: "https://id.example.org", client_id: c, scope: "openid email org.cilogon.userinfo"}`).scope).toBe(
      "openid email org.cilogon.userinfo",
    );
    expect(() => oidcOf(`{issuer: "https://id.example.org", client_id: c, scope: "email profile"}`)).toThrow(/openid/);
  });
});

describe("claims: ID token and userinfo", () => {
  it("userinfo fills in what the ID token lacks; issuer and subject come from the ID token", () => {
    const id = oidcIdentity(
      base,
      { sub: "u-1", email: "Ada@Example.org", email_verified: true, name: "Ada", groups: ["lumen-admins"] },
      jwt({ iss: "https://id.example.org", sub: "u-1" }),
    );
    expect(id).toEqual({
      issuer: "https://id.example.org",
      subject: "u-1",
      email: "Ada@Example.org",
      emailVerified: true,
      name: "Ada",
      image: null,
      groups: ["lumen-admins"],
    });
  });

  it("groups only in the ID token (as Entra sends them) count; the claim name is configurable", () => {
    const cilogon = oidcOf(`{issuer: "https://cilogon.org", client_id: c, groups_claim: isMemberOf}`);
    const id = oidcIdentity(cilogon, { sub: "s", email: "a@b.org" }, jwt({ iss: "https://cilogon.org", sub: "s", isMemberOf: ["CO:admins"] }));
    expect(id?.groups).toEqual(["CO:admins"]);
  });

  it("email_verified as the string \"true\" counts; anything else does not", () => {
    expect(oidcIdentity(base, { sub: "s", email_verified: "true" }, jwt({ sub: "s" }))?.emailVerified).toBe(true);
    expect(oidcIdentity(base, { sub: "s", email_verified: "yes" }, jwt({ sub: "s" }))?.emailVerified).toBe(false);
    expect(oidcIdentity(base, { sub: "s" }, jwt({ sub: "s" }))?.emailVerified).toBe(false);
  });

  it("no subject: no identity; a broken token reads as no claims", () => {
    expect(oidcIdentity(base, {}, "not-a-jwt")).toBeNull();
    expect(idTokenClaims("a.!!!.c")).toEqual({});
    expect(idTokenClaims(undefined)).toEqual({});
  });

  it("groups: a list, one name, or comma-separated text; blanks and duplicates dropped", () => {
    expect(groupsOf(["a", " b ", "a", "", 3])).toEqual(["a", "b"]);
    expect(groupsOf("a, b")).toEqual(["a", "b"]);
    expect(groupsOf(undefined)).toEqual([]);
    expect(groupsOf({ a: 1 })).toEqual([]);
  });
});

describe("administrators by group", () => {
  it("any listed group makes an administrator; exact names; none configured: nobody", () => {
    expect(isAdminByGroups(["staff", "lumen-admins"], base)).toBe(true);
    expect(isAdminByGroups(["Lumen-Admins"], base)).toBe(false);
    expect(isAdminByGroups([], base)).toBe(false);
    expect(isAdminByGroups(null, base)).toBe(false);
    expect(isAdminByGroups(["lumen-admins"], oidcOf(`{issuer: "https://id.example.org", client_id: c}`))).toBe(false);
    expect(isAdminByGroups(["lumen-admins"], undefined)).toBe(false);
  });
});

describe("sign-in error messages", () => {
  it("known codes have their message; unknown or hostile codes the generic one; none: nothing", () => {
    expect(signInErrorMessage("EmailNotVerified")).toBe(SIGN_IN_ERRORS.EmailNotVerified);
    expect(signInErrorMessage("<script>")).toBe(GENERIC_SIGN_IN_ERROR);
    expect(signInErrorMessage("constructor")).toBe(GENERIC_SIGN_IN_ERROR);
    expect(signInErrorMessage(undefined)).toBeUndefined();
    expect(signInErrorPath("a b")).toBe("/signin/error?error=a%20b");
  });
});
