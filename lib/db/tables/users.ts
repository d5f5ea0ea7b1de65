/** People who sign in to the console, and their sessions. */
import { boolean, index, integer, pgTable, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/**
 * A person who signs in. An OpenID Connect user is identified by its issuer and subject (the
 * provider's stable id); the e-mail is an attribute the provider asserts, kept with whether it was
 * verified (admin rights need a verified e-mail). Development sign-in users have no issuer.
 */
export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    email: text("email").notNull(),
    /** Whether the identity provider verified the e-mail (development sign-in and older rows: true). */
    emailVerified: boolean("email_verified").notNull().default(true),
    oidcIssuer: text("oidc_issuer"),
    oidcSubject: text("oidc_subject"),
    name: text("name"),
    image: text("image"),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastSignInAt: ts("last_sign_in_at"),
    /** Bumped by "Sign out everywhere": every session that carries an older version is refused. */
    sessionVersion: integer("session_version").notNull().default(0),
  },
  (t) => [
    // E-mails are stored lower-cased (see normalizeEmail), so a plain unique index is case-insensitive.
    uniqueIndex("users_email_idx").on(t.email),
    uniqueIndex("users_oidc_identity_idx").on(t.oidcIssuer, t.oidcSubject),
  ],
);

/**
 * A console session (one sign-in in one browser). The cookie carries its id and the user's session
 * version; a request is signed in only while the row exists, is not ended and has not expired
 * (`auth.session_hours` after its last use, rolling).
 */
export const userSessions = pgTable(
  "user_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at").notNull(),
    endedAt: ts("ended_at"),
    /**
     * Single sign-on: the groups the identity provider asserted at this sign-in (admin rights by
     * `auth.oidc.admin_groups` come from them). Null: not a single sign-on session (development sign-in).
     */
    idpGroups: text("idp_groups").array(),
  },
  (t) => [index("user_sessions_user_idx").on(t.userId)],
);
