import { and, eq, sql } from "drizzle-orm";
import type { Db, Executor } from "@/lib/db/client";
import { isUniqueViolation } from "@/lib/db/errors";
import { users, type User } from "@/lib/db/schema";

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Development sign-in (and seeds): the user with this e-mail, created on first sign-in; refreshes
 * name and sign-in time afterwards.
 */
export async function upsertUser(
  ex: Executor,
  input: { email: string; name?: string | null; image?: string | null },
): Promise<User> {
  const email = normalizeEmail(input.email);
  const name = input.name?.trim() || null;
  const [row] = await ex
    .insert(users)
    .values({ email, name, image: input.image ?? null, lastSignInAt: new Date() })
    .onConflictDoUpdate({
      target: users.email,
      set: {
        name: sql`coalesce(excluded.name, ${users.name})`,
        image: sql`coalesce(excluded.image, ${users.image})`,
        lastSignInAt: sql`now()`,
      },
    })
    .returning();
  if (!row) throw new Error("user upsert returned nothing");
  return row;
}

/** What an OpenID Connect provider asserted about the person signing in (its ID token's claims). */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name?: string | null;
  image?: string | null;
}

/** The OIDC settings that decide who may sign in (config `auth.oidc`). */
export interface OidcPolicy {
  require_verified_email: boolean;
  allowed_domains?: string[];
}

/** Why an OIDC sign-in is refused; each has its own message on the sign-in page. */
export type OidcRefusal = "EmailMissing" | "EmailNotVerified" | "DomainNotAllowed" | "EmailInUse";

/** The claims' verdict before any database work: an e-mail, verified when required, in an allowed domain. */
export function checkOidcIdentity(identity: OidcIdentity, policy: OidcPolicy): OidcRefusal | null {
  const email = identity.email ? normalizeEmail(identity.email) : "";
  if (!email || !email.includes("@")) return "EmailMissing";
  if (policy.require_verified_email && !identity.emailVerified) return "EmailNotVerified";
  if (policy.allowed_domains) {
    const domain = email.slice(email.lastIndexOf("@") + 1);
    if (!policy.allowed_domains.includes(domain)) return "DomainNotAllowed";
  }
  return null;
}

/** `email_verified` as providers send it: a boolean, or (some providers) the string "true". */
export function claimIsTrue(value: unknown): boolean {
  return value === true || value === "true";
}

/**
 * The user an OIDC identity signs in as, keyed by issuer + subject:
 * 1. the user already linked to this identity (its e-mail and verification are refreshed);
 * 2. else the user with this e-mail and no identity yet (created by the development sign-in, an
 *    older Lumen, or an administrator's seed) — linked only when the provider verified the e-mail,
 *    so an unverified claim can never take over someone's account;
 * 3. else a new user.
 * An e-mail that belongs to another identity's user is refused (`EmailInUse`), never merged.
 */
export async function signInOidcUser(
  db: Db,
  identity: OidcIdentity,
  policy: OidcPolicy,
): Promise<{ ok: true; user: User } | { ok: false; reason: OidcRefusal }> {
  const refused = checkOidcIdentity(identity, policy);
  if (refused) return { ok: false, reason: refused };
  const email = normalizeEmail(identity.email!);
  const name = identity.name?.trim() || null;
  const image = identity.image ?? null;
  const verified = identity.emailVerified;
  try {
    return await db.transaction(async (tx) => {
      const [linked] = await tx
        .select()
        .from(users)
        .where(and(eq(users.oidcIssuer, identity.issuer), eq(users.oidcSubject, identity.subject)))
        .for("update");
      const [byEmail] = await tx.select().from(users).where(eq(users.email, email)).for("update");
      if (linked) {
        if (byEmail && byEmail.id !== linked.id) return { ok: false as const, reason: "EmailInUse" as const };
        const [row] = await tx
          .update(users)
          .set({ email, emailVerified: verified, name: name ?? linked.name, image: image ?? linked.image, lastSignInAt: sql`now()` })
          .where(eq(users.id, linked.id))
          .returning();
        return { ok: true as const, user: row! };
      }
      if (byEmail) {
        if (byEmail.oidcSubject !== null || !verified) return { ok: false as const, reason: "EmailInUse" as const };
        const [row] = await tx
          .update(users)
          .set({
            oidcIssuer: identity.issuer,
            oidcSubject: identity.subject,
            emailVerified: true,
            name: name ?? byEmail.name,
            image: image ?? byEmail.image,
            lastSignInAt: sql`now()`,
          })
          .where(eq(users.id, byEmail.id))
          .returning();
        return { ok: true as const, user: row! };
      }
      const [row] = await tx
        .insert(users)
        .values({
          email,
          emailVerified: verified,
          oidcIssuer: identity.issuer,
          oidcSubject: identity.subject,
          name,
          image,
          lastSignInAt: new Date(),
        })
        .returning();
      return { ok: true as const, user: row! };
    });
  } catch (err) {
    // A concurrent first sign-in with the same e-mail or identity: the second one is refused, not merged.
    if (isUniqueViolation(err)) return { ok: false, reason: "EmailInUse" };
    throw err;
  }
}
