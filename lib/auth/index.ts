import NextAuth, { type NextAuthConfig } from "next-auth";
import type { NextRequest } from "next/server";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { errorFields, log } from "@/lib/log";
import { baseAuthConfig } from "./base-config";
import { devLoginUsable } from "./dev-login";
import { endSession, sessionClaimsSchema, startSession } from "./sessions";
import { signInErrorPath } from "./errors";
import { authLogger, errorLocation, trackAuthFailures, withFailureCode } from "./failures";
import { OIDC_PROVIDER_ID, oidcIdentity, oidcProvider } from "./oidc";
import { signInOidcUser, upsertUser } from "./users";

export const devLoginSchema = z.object({
  email: z.email({ message: "Enter a valid e-mail address" }).max(254),
  name: z.string().trim().max(100).optional(),
});

function providers(): NextAuthConfig["providers"] {
  const config = getConfig();
  const list: NextAuthConfig["providers"] = [];
  if (devLoginUsable(config)) {
    list.push(
      Credentials({
        id: "dev",
        name: "Development sign-in",
        credentials: { email: { label: "E-mail", type: "email" }, name: { label: "Name", type: "text" } },
        async authorize(raw) {
          // Re-read live: turning dev_login off (or exposing the server) refuses at once, even on an old sign-in page.
          if (!devLoginUsable()) return null;
          const parsed = devLoginSchema.safeParse({
            email: typeof raw?.email === "string" ? raw.email.trim() : raw?.email,
            name: typeof raw?.name === "string" && raw.name.trim() ? raw.name : undefined,
          });
          if (!parsed.success) return null;
          // No name typed: keep the stored one (upsert coalesces), or show the e-mail.
          const user = await upsertUser(await getDb(), { email: parsed.data.email, name: parsed.data.name });
          return { id: user.id, email: user.email, name: user.name };
        },
      }),
    );
  }
  const oidc = config.auth.oidc;
  if (oidc) list.push(oidcProvider(oidc));
  return list;
}

function fullAuthConfig(): NextAuthConfig {
  const base = baseAuthConfig();
  return {
    ...base,
    providers: providers(),
    logger: authLogger,
    callbacks: {
      ...base.callbacks,
      /**
       * OIDC: the person is identified by issuer + subject; the e-mail must be verified (unless
       * auth.oidc.require_verified_email is false) and in an allowed domain. The matching Lumen user
       * (lib/auth/users.ts) becomes `user.id`, which the jwt callback below puts in the session.
       * A refusal is logged and sent to the sign-in error page, which says why.
       */
      async signIn({ user, account, profile }) {
        if (account?.provider === "dev") return true;
        if (account?.provider !== OIDC_PROVIDER_ID) return false;
        const oidc = getConfig().auth.oidc;
        const identity = oidc ? oidcIdentity(oidc, profile as Record<string, unknown> | undefined, account.id_token) : null;
        if (!oidc || !identity) {
          log.warn("single sign-on refused", { reason: "AccessDenied", cause: oidc ? "no subject claim" : "auth.oidc is not configured" });
          return signInErrorPath("AccessDenied");
        }
        const result = await signInOidcUser(await getDb(), identity, oidc);
        if (!result.ok) {
          log.warn("single sign-on refused", { reason: result.reason, issuer: identity.issuer, subject: identity.subject });
          return signInErrorPath(result.reason);
        }
        user.id = result.user.id;
        user.email = result.user.email;
        return true;
      },
      /** At sign-in: a new session row; the cookie carries its id and the user's session version. */
      async jwt({ token, user, account, profile }) {
        if (user?.id && account) {
          const config = getConfig();
          const sso =
            account.provider === OIDC_PROVIDER_ID && config.auth.oidc
              ? { groups: oidcIdentity(config.auth.oidc, profile as Record<string, unknown> | undefined, account.id_token)?.groups ?? [] }
              : undefined;
          const claims = await startSession(await getDb(), user.id, config.auth.session_hours, sso);
          token.uid = claims.uid;
          token.sid = claims.sid;
          token.sv = claims.sv;
        }
        return token;
      },
    },
    events: {
      /** "Sign out" (our action or Auth.js's endpoint) ends the session server-side, not just the cookie. */
      async signOut(message) {
        const token = "token" in message ? message.token : null;
        const claims = sessionClaimsSchema.safeParse(token);
        if (!claims.success) return;
        await endSession(await getDb(), claims.data.sid).catch((err: unknown) =>
          log.error("ending a session failed", { ...errorFields(err) }),
        );
      },
    },
  };
}

const nextAuth = NextAuth(() => fullAuthConfig());
export const { auth, signIn, signOut } = nextAuth;

/** /api/auth/*: Auth.js's handlers, with the real reason on its error page (lib/auth/failures.ts). */
export async function authRouteHandler(req: NextRequest): Promise<Response> {
  const handler = req.method === "POST" ? nextAuth.handlers.POST : nextAuth.handlers.GET;
  const { result, code } = await trackAuthFailures(() => handler(req));
  return withFailureCode(result, code);
}

/**
 * Starts single sign-on: where to send the browser — the provider's authorization endpoint, or the
 * sign-in error page when the sign-in cannot start (the provider cannot be reached).
 */
export async function startOidcSignIn(redirectTo: string): Promise<string> {
  try {
    const { result, code } = await trackAuthFailures(
      () => signIn(OIDC_PROVIDER_ID, { redirectTo, redirect: false }) as Promise<string>,
    );
    return errorLocation(result, code) ?? result;
  } catch (err) {
    log.warn("single sign-on could not start", { cause: err instanceof Error ? err.name : "unknown" });
    return signInErrorPath("ProviderUnreachable");
  }
}
