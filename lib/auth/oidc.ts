/**
 * Single sign-on with an OpenID Connect provider (config `auth.oidc`): the Auth.js provider, the
 * claims Lumen reads from it, and whether the provider can be reached right now.
 */
import type { NextAuthConfig } from "next-auth";
import type { LumenConfig } from "@/lib/config";
import { errorFields, log } from "@/lib/log";
import { claimIsTrue, type OidcIdentity } from "./users";

type OidcConfig = NonNullable<LumenConfig["auth"]["oidc"]>;
type Provider = NextAuthConfig["providers"][number];

export const OIDC_PROVIDER_ID = "oidc";

/**
 * The Auth.js provider. Every check is on: PKCE, `state` (the callback belongs to a sign-in this
 * browser started) and `nonce` (the ID token was minted for it). `idToken: false` makes Auth.js also
 * fetch the userinfo endpoint (checking its `sub` against the ID token's): many providers put
 * `email`, `email_verified` and groups only there, others (Entra) only in the ID token, so
 * `oidcIdentity` reads both.
 */
export function oidcProvider(oidc: OidcConfig): Provider {
  return {
    id: OIDC_PROVIDER_ID,
    name: oidc.name ?? "Single sign-on",
    type: "oidc",
    issuer: oidc.issuer,
    clientId: oidc.client_id,
    clientSecret: oidc.client_secret ?? process.env.AUTH_OIDC_CLIENT_SECRET,
    authorization: { params: { scope: oidc.scope } },
    checks: ["pkce", "state", "nonce"],
    idToken: false,
  } as Provider;
}

/** The claims of the (already validated) ID token; Auth.js keeps the raw token on the account. */
export function idTokenClaims(idToken: unknown): Record<string, unknown> {
  if (typeof idToken !== "string") return {};
  const payload = idToken.split(".")[1];
  if (!payload) return {};
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return claims && typeof claims === "object" && !Array.isArray(claims) ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A groups claim as providers send it: a list of names, one name, or (rarely) a comma-separated text. */
export function groupsOf(value: unknown): string[] {
  const raw = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  const out = new Set<string>();
  for (const g of raw) if (typeof g === "string" && g.trim()) out.add(g.trim());
  return [...out];
}

export interface OidcSignIn extends OidcIdentity {
  groups: string[];
}

/**
 * Who signed in, from the ID token's claims and the userinfo response (`profile`; it wins where
 * both say something, except the issuer and subject, which only the ID token states with authority).
 */
export function oidcIdentity(
  oidc: OidcConfig,
  profile: Record<string, unknown> | undefined,
  idToken: unknown,
): OidcSignIn | null {
  const fromToken = idTokenClaims(idToken);
  const claims = { ...fromToken, ...(profile ?? {}) };
  const subject = typeof fromToken.sub === "string" ? fromToken.sub : typeof claims.sub === "string" ? claims.sub : null;
  if (!subject) return null;
  return {
    issuer: typeof fromToken.iss === "string" ? fromToken.iss : oidc.issuer,
    subject,
    email: typeof claims.email === "string" ? claims.email : null,
    emailVerified: claimIsTrue(claims.email_verified),
    name: typeof claims.name === "string" ? claims.name : null,
    image: typeof claims.picture === "string" ? claims.picture : null,
    groups: groupsOf(claims[oidc.groups_claim]),
  };
}

/** Whether any of the groups makes an administrator (`auth.oidc.admin_groups`, exact names). */
export function isAdminByGroups(groups: readonly string[] | null | undefined, oidc: OidcConfig | null | undefined): boolean {
  if (!groups?.length || !oidc?.admin_groups?.length) return false;
  const wanted = new Set(oidc.admin_groups);
  return groups.some((g) => wanted.has(g));
}

// ---------------------------------------------------------------------------
// Can the provider be reached? (the sign-in page asks before offering the button)
// ---------------------------------------------------------------------------

const OK_FOR_MS = 60_000;
const FAILED_FOR_MS = 5_000;
const TIMEOUT_MS = 3_000;
const status = new Map<string, { ok: boolean; until: number; pending?: Promise<boolean> }>();

/**
 * Whether the issuer's discovery document answers (cached: a minute when it does, a few seconds
 * when it does not). Lumen never needs the provider to start; the sign-in page says single sign-on
 * is unavailable instead of offering a button that can only fail.
 */
export async function oidcProviderReachable(issuer: string): Promise<boolean> {
  const known = status.get(issuer);
  if (known && known.until > Date.now()) return known.ok;
  if (known?.pending) return known.pending;
  const pending = discover(issuer).then((ok) => {
    status.set(issuer, { ok, until: Date.now() + (ok ? OK_FOR_MS : FAILED_FOR_MS) });
    return ok;
  });
  status.set(issuer, { ok: known?.ok ?? false, until: 0, pending });
  return pending;
}

/** Forget what is known (a failed sign-in attempt says more than a minute-old check). */
export function forgetOidcProviderStatus(issuer: string): void {
  status.delete(issuer);
}

async function discover(issuer: string): Promise<boolean> {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: "application/json" } });
    if (!res.ok) {
      log.warn("single sign-on provider unavailable", { issuer, status: res.status });
      return false;
    }
    const doc = (await res.json()) as { issuer?: unknown };
    if (typeof doc?.issuer !== "string") {
      log.warn("single sign-on provider unavailable", { issuer, cause: "no issuer in its discovery document" });
      return false;
    }
    return true;
  } catch (err) {
    log.warn("single sign-on provider unavailable", { issuer, ...errorFields(err) });
    return false;
  }
}
