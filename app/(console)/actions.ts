"use server";

import { signOut } from "@/lib/auth";
import { currentViewer } from "@/lib/auth/session";
import { endAllSessions } from "@/lib/auth/sessions";
import { getDb } from "@/lib/db/client";

/** Ends this session (server-side too: Auth.js's signOut event, lib/auth/index.ts). */
export async function signOutAction(): Promise<void> {
  await signOut({ redirectTo: "/signin" });
}

/** Ends every session of the signed-in user, in every browser, then this one. */
export async function signOutEverywhereAction(): Promise<void> {
  const viewer = await currentViewer();
  if (viewer) await endAllSessions(await getDb(), viewer.user.id);
  await signOut({ redirectTo: "/signin?signedOut=everywhere" });
}
