import { cache } from "react";
import { auth } from "@/lib/auth";
import { getConfig, isAdminEmail } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import type { Viewer } from "./permissions";
import { sessionClaimsSchema, userOfSession } from "./sessions";

/**
 * The signed-in viewer with live admin status, or null when signed out: no valid cookie, or a session
 * that was ended, expired or signed out everywhere (lib/auth/sessions.ts), or a user that is gone.
 * Admin rights need the e-mail listed under `admins:` and verified by the sign-in.
 * Memoized per request (layouts and the page ask for it), never across requests.
 */
export const currentViewer = cache(async (): Promise<Viewer | null> => {
  const claims = sessionClaimsSchema.safeParse(await auth());
  if (!claims.success) return null;
  const user = await userOfSession(await getDb(), claims.data, getConfig().auth.session_hours);
  if (!user) return null;
  return {
    user: { id: user.id, email: user.email, name: user.name },
    isAdmin: user.emailVerified && isAdminEmail(user.email),
  };
});
