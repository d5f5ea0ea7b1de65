/**
 * Console sessions that can be ended. The session cookie (an encrypted Auth.js JWT) carries the
 * session's id and the user's session version; a request is signed in only while
 * - the `user_sessions` row exists, is not ended ("Sign out") and has not expired, and
 * - the user's `session_version` still equals the cookie's ("Sign out everywhere" bumps it).
 * So a cookie copied before sign-out is worthless afterwards. Sessions last `auth.session_hours`
 * after their last use (rolling): the cookie is re-issued by the middleware, the row's expiry moved
 * here, at most once every ROLL_EVERY_MINUTES.
 */
import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, Executor } from "@/lib/db/client";
import { users, userSessions, type User } from "@/lib/db/schema";

const ROLL_EVERY_MINUTES = 5;

/** What the session cookie must carry (anything else is signed out). */
export const sessionClaimsSchema = z.object({
  uid: z.uuid(),
  sid: z.uuid(),
  sv: z.int().min(0),
});
export type SessionClaims = z.infer<typeof sessionClaimsSchema>;

const expiry = (hours: number) => sql`now() + ${`${Math.round(hours * 3600)} seconds`}::interval`;

/**
 * Opens a session for a user who just signed in; returns the claims for the cookie. `sso`: a single
 * sign-on, with the groups the identity provider asserted (kept with the session).
 */
export async function startSession(db: Db, userId: string, hours: number, sso?: { groups: string[] }): Promise<SessionClaims> {
  return db.transaction(async (tx) => {
    // Housekeeping: this user's sessions that ended or expired more than a day ago.
    await tx
      .delete(userSessions)
      .where(
        and(
          eq(userSessions.userId, userId),
          or(lt(userSessions.expiresAt, sql`now() - interval '1 day'`), lt(userSessions.endedAt, sql`now() - interval '1 day'`)),
        ),
      );
    const [user] = await tx.select({ version: users.sessionVersion }).from(users).where(eq(users.id, userId));
    if (!user) throw new Error("signing in a user that does not exist");
    const [row] = await tx.insert(userSessions).values({ userId, expiresAt: expiry(hours), idpGroups: sso ? sso.groups : null }).returning({ id: userSessions.id });
    return { uid: userId, sid: row!.id, sv: user.version };
  });
}

export type SessionUser = Pick<User, "id" | "email" | "name" | "emailVerified"> & {
  /** The identity provider's groups at this session's sign-in; null for a development sign-in. */
  idpGroups: string[] | null;
};

/**
 * The user of a live session, or null (ended, expired, signed out everywhere, user gone, or a single
 * sign-on session older than `reauthenticateHours`: the person signs in again, and the provider's
 * groups are read afresh). Rolls the expiry.
 */
export async function userOfSession(
  db: Db,
  claims: SessionClaims,
  hours: number,
  reauthenticateHours?: number,
): Promise<SessionUser | null> {
  const fresh =
    reauthenticateHours === undefined
      ? undefined
      : or(isNull(userSessions.idpGroups), gt(userSessions.createdAt, sql`now() - ${`${Math.round(reauthenticateHours * 3600)} seconds`}::interval`));
  const [found] = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      emailVerified: users.emailVerified,
      idpGroups: userSessions.idpGroups,
      expiresAt: userSessions.expiresAt,
    })
    .from(userSessions)
    .innerJoin(users, eq(users.id, userSessions.userId))
    .where(
      and(
        eq(userSessions.id, claims.sid),
        eq(userSessions.userId, claims.uid),
        isNull(userSessions.endedAt),
        gt(userSessions.expiresAt, sql`now()`),
        eq(users.sessionVersion, claims.sv),
        fresh,
      ),
    )
    .limit(1);
  if (!found) return null;
  const rollAfter = Date.now() + hours * 3_600_000 - ROLL_EVERY_MINUTES * 60_000;
  if (found.expiresAt.getTime() < rollAfter) {
    await db.update(userSessions).set({ expiresAt: expiry(hours) }).where(and(eq(userSessions.id, claims.sid), isNull(userSessions.endedAt)));
  }
  const { expiresAt: _, ...user } = found;
  return user;
}

/** "Sign out": ends this one session. */
export async function endSession(ex: Executor, sessionId: string): Promise<void> {
  await ex.update(userSessions).set({ endedAt: sql`now()` }).where(and(eq(userSessions.id, sessionId), isNull(userSessions.endedAt)));
}

/** "Sign out everywhere": every session of the user ends, including ones not recorded yet in flight. */
export async function endAllSessions(db: Db, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(users).set({ sessionVersion: sql`${users.sessionVersion} + 1` }).where(eq(users.id, userId));
    await tx.update(userSessions).set({ endedAt: sql`now()` }).where(and(eq(userSessions.userId, userId), isNull(userSessions.endedAt)));
  });
}
