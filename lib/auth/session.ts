import { cookies } from "next/headers";
import { cache } from "react";
import { getConfig, isAdminEmail } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { sessionSecret } from "@/lib/secret";
import { isAdminByGroups } from "./oidc";
import { canUseClientsSection, type Viewer } from "./permissions";
import { decodeSessionToken, sessionCookieName, sessionTokenOf } from "./session-cookie";
import { sessionClaimsSchema, userOfSession } from "./sessions";

/**
 * The signed-in viewer with live admin status, or null when signed out: no valid cookie, or a session
 * that was ended, expired or signed out everywhere (lib/auth/sessions.ts), or a user that is gone.
 * Administrators: the e-mail listed under `admins:` and verified by the sign-in, or (single sign-on)
 * a group the identity provider asserted at this session's sign-in listed under
 * `auth.oidc.admin_groups`. Both lists are read live; the groups are as of the sign-in, and a
 * single sign-on session ends `auth.oidc.reauthenticate_hours` after it, so they are never older.
 * The session cookie is decrypted directly (lib/auth/session-cookie.ts: Auth.js's own decoding,
 * without its whole session request).
 * Memoized per request (layouts and the page ask for it), never across requests.
 */
export const currentViewer = cache(async (): Promise<Viewer | null> => {
  const config = getConfig();
  const name = sessionCookieName(config.app.base_url);
  const token = sessionTokenOf((await cookies()).getAll(), name);
  const claims = sessionClaimsSchema.safeParse(await decodeSessionToken(token, sessionSecret(), name));
  if (!claims.success) return null;
  const oidc = config.auth.oidc;
  const user = await userOfSession(await getDb(), claims.data, config.auth.session_hours, oidc?.reauthenticate_hours);
  if (!user) return null;
  return {
    user: { id: user.id, email: user.email, name: user.name },
    isAdmin: (user.emailVerified && isAdminEmail(user.email, config)) || isAdminByGroups(user.idpGroups, oidc),
  };
});

/**
 * Whether the viewer may open the Clients section (canUseClientsSection), memoized per request like
 * currentViewer: the console layout, the list's layout and its page each ask, and a manager's answer is
 * a query.
 */
export const viewerCanUseClients = cache(async (viewer: Viewer): Promise<boolean> => canUseClientsSection(await getDb(), viewer));
