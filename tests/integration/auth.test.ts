/**
 * Sign-in identities and sessions in the database (issue 9, items 3 and 4): OIDC users keyed by
 * issuer + subject, verified e-mail required for linking and for admin rights, no merge on an
 * unverified or taken e-mail; sessions that end alone, all together, or by expiry.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { users, userSessions } from "@/lib/db/schema";
import { endAllSessions, endSession, startSession, userOfSession } from "@/lib/auth/sessions";
import { signInOidcUser, upsertUser, type OidcIdentity } from "@/lib/auth/users";
import { backends, useBackend } from "../helpers/backend";

const ISSUER = "https://id.example.org";
const policy = { require_verified_email: true };
const lax = { require_verified_email: false };
const identity = (subject: string, email: string, emailVerified = true): OidcIdentity => ({
  issuer: ISSUER,
  subject,
  email,
  emailVerified,
  name: `User ${subject}`,
});

describe.each(backends())("sign-in identities and sessions on $name", (backend) => {
  let db: Db;
  useBackend(backend, (h) => (db = h.db));

  describe("OIDC identities", () => {
    it("a new identity becomes a new user keyed by issuer + subject, the e-mail stored lower-case", async () => {
      const r = await signInOidcUser(db, identity("sub-1", "New.Person@Example.org"), policy);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.user).toMatchObject({ email: "new.person@example.org", oidcIssuer: ISSUER, oidcSubject: "sub-1", emailVerified: true });
      // The same identity later, with a changed e-mail: the same user, the e-mail follows the provider.
      const again = await signInOidcUser(db, identity("sub-1", "renamed@example.org"), policy);
      expect(again.ok && again.user.id).toBe(r.user.id);
      expect(again.ok && again.user.email).toBe("renamed@example.org");
    });

    it("an unverified e-mail is refused by default", async () => {
      const r = await signInOidcUser(db, identity("sub-2", "unverified@example.org", false), policy);
      expect(r).toEqual({ ok: false, reason: "EmailNotVerified" });
      expect(await db.select().from(users).where(eq(users.email, "unverified@example.org"))).toEqual([]);
    });

    it("a verified e-mail links an existing user that has no identity yet (e.g. the seeded admin)", async () => {
      const seeded = await upsertUser(db, { email: "boss@example.org", name: "Boss" });
      const r = await signInOidcUser(db, identity("sub-boss", "boss@example.org"), policy);
      expect(r.ok && r.user.id).toBe(seeded.id);
      expect(r.ok && r.user.oidcSubject).toBe("sub-boss");
    });

    it("another identity claiming a linked user's e-mail is refused, not merged", async () => {
      await signInOidcUser(db, identity("sub-owner", "owner@example.org"), policy);
      const r = await signInOidcUser(db, identity("sub-attacker", "owner@example.org"), policy);
      expect(r).toEqual({ ok: false, reason: "EmailInUse" });
      // Also through an e-mail change of an existing identity.
      await signInOidcUser(db, identity("sub-other", "other@example.org"), policy);
      expect(await signInOidcUser(db, identity("sub-other", "owner@example.org"), policy)).toEqual({ ok: false, reason: "EmailInUse" });
    });

    it("with require_verified_email: false, an unverified e-mail signs in as its own user but never links or gets admin's e-mail", async () => {
      const admin = await upsertUser(db, { email: "admin@corp.example", name: "Admin" });
      const r = await signInOidcUser(db, identity("sub-x", "admin@corp.example", false), lax);
      expect(r).toEqual({ ok: false, reason: "EmailInUse" });
      const [still] = await db.select().from(users).where(eq(users.id, admin.id));
      expect(still!.oidcSubject).toBeNull();
      const own = await signInOidcUser(db, identity("sub-y", "someone@corp.example", false), lax);
      expect(own.ok && own.user.emailVerified).toBe(false);
    });

    it("allowed_domains limits who may sign in", async () => {
      const p = { ...policy, allowed_domains: ["example.org"] };
      expect((await signInOidcUser(db, identity("sub-d1", "in@example.org"), p)).ok).toBe(true);
      expect(await signInOidcUser(db, identity("sub-d2", "out@example.com"), p)).toEqual({ ok: false, reason: "DomainNotAllowed" });
    });

    it("the same subject at another issuer is another person", async () => {
      const a = await signInOidcUser(db, identity("shared-sub", "a@example.org"), policy);
      const b = await signInOidcUser(db, { ...identity("shared-sub", "b@example.org"), issuer: "https://other.example.org" }, policy);
      expect(a.ok && b.ok && a.user.id !== b.user.id).toBe(true);
    });
  });

  describe("sessions", () => {
    let userId = "";
    beforeAll(async () => {
      userId = (await upsertUser(db, { email: "sessions@example.org" })).id;
    });

    it("a started session is live; ending it ends only that one", async () => {
      const a = await startSession(db, userId, 12);
      const b = await startSession(db, userId, 12);
      expect((await userOfSession(db, a, 12))?.id).toBe(userId);
      await endSession(db, a.sid);
      expect(await userOfSession(db, a, 12)).toBeNull();
      expect((await userOfSession(db, b, 12))?.id).toBe(userId);
    });

    it("ending all bumps the version: every session ends, new ones carry the new version", async () => {
      const a = await startSession(db, userId, 12);
      const b = await startSession(db, userId, 12);
      await endAllSessions(db, userId);
      expect(await userOfSession(db, a, 12)).toBeNull();
      expect(await userOfSession(db, b, 12)).toBeNull();
      const c = await startSession(db, userId, 12);
      expect(c.sv).toBe(a.sv + 1);
      expect((await userOfSession(db, c, 12))?.id).toBe(userId);
      // A cookie that claims the new version for an old session is still refused (the row is ended).
      expect(await userOfSession(db, { ...a, sv: c.sv }, 12)).toBeNull();
    });

    it("expires after session_hours without use, and rolls forward when used", async () => {
      const s = await startSession(db, userId, 12);
      await db.update(userSessions).set({ expiresAt: sql`now() + interval '10 minutes'` }).where(eq(userSessions.id, s.sid));
      expect(await userOfSession(db, s, 12)).not.toBeNull();
      const [rolled] = await db.select({ at: userSessions.expiresAt }).from(userSessions).where(eq(userSessions.id, s.sid));
      expect(rolled!.at.getTime() - Date.now()).toBeGreaterThan(11 * 3_600_000);
      await db.update(userSessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(userSessions.id, s.sid));
      expect(await userOfSession(db, s, 12)).toBeNull();
    });

    it("a single sign-on session keeps the provider's groups; a development sign-in has none", async () => {
      const sso = await startSession(db, userId, 12, { groups: ["staff", "lumen-admins"] });
      const dev = await startSession(db, userId, 12);
      expect((await userOfSession(db, sso, 12, 24))?.idpGroups).toEqual(["staff", "lumen-admins"]);
      expect((await userOfSession(db, dev, 12, 24))?.idpGroups).toBeNull();
    });

    it("a single sign-on session ends reauthenticate_hours after sign-in, even in use; others do not", async () => {
      const sso = await startSession(db, userId, 12, { groups: [] });
      const dev = await startSession(db, userId, 12);
      await db
        .update(userSessions)
        .set({ createdAt: sql`now() - interval '25 hours'` })
        .where(sql`${userSessions.id} in (${sso.sid}, ${dev.sid})`);
      expect(await userOfSession(db, sso, 12, 24)).toBeNull();
      expect((await userOfSession(db, sso, 12, 26))?.id).toBe(userId);
      expect((await userOfSession(db, dev, 12, 24))?.id).toBe(userId);
    });

    it("claims that do not match the row are refused (another user's session id)", async () => {
      const other = (await upsertUser(db, { email: "other-sessions@example.org" })).id;
      const s = await startSession(db, other, 12);
      expect(await userOfSession(db, { ...s, uid: userId }, 12)).toBeNull();
    });
  });
});
