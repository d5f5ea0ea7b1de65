import NextAuth, { type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { errorFields, log } from "@/lib/log";
import { baseAuthConfig } from "./base-config";
import { devLoginUsable } from "./dev-login";
import { endSession, sessionClaimsSchema, startSession } from "./sessions";
import { claimIsTrue, signInOidcUser, upsertUser } from "./users";

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
  if (oidc) {
    list.push({
      id: "oidc",
      name: oidc.name ?? "Single sign-on",
      type: "oidc",
      issuer: oidc.issuer,
      clientId: oidc.client_id,
      clientSecret: oidc.client_secret ?? process.env.AUTH_OIDC_CLIENT_SECRET,
      authorization: { params: { scope: "openid email profile" } },
    });
  }
  return list;
}

/** The sign-in page explains each refusal (app/(auth)/signin/page.tsx). */
const refusedTo = (reason: string) => `/signin?error=${encodeURIComponent(reason)}`;

function fullAuthConfig(): NextAuthConfig {
  const base = baseAuthConfig();
  return {
    ...base,
    providers: providers(),
    callbacks: {
      ...base.callbacks,
      /**
       * OIDC: the person is identified by issuer + subject; the e-mail must be verified (unless
       * auth.oidc.require_verified_email is false) and in an allowed domain. The matching Lumen user
       * (lib/auth/users.ts) becomes `user.id`, which the jwt callback below puts in the session.
       */
      async signIn({ user, account, profile }) {
        if (account?.provider === "dev") return true;
        if (account?.provider !== "oidc") return false;
        const oidc = getConfig().auth.oidc;
        const subject = typeof profile?.sub === "string" ? profile.sub : null;
        if (!oidc || !subject) return refusedTo("AccessDenied");
        const result = await signInOidcUser(
          await getDb(),
          {
            issuer: typeof profile?.iss === "string" ? profile.iss : oidc.issuer,
            subject,
            email: typeof profile?.email === "string" ? profile.email : null,
            emailVerified: claimIsTrue(profile?.email_verified),
            name: typeof profile?.name === "string" ? profile.name : null,
            image: typeof profile?.picture === "string" ? profile.picture : null,
          },
          oidc,
        );
        if (!result.ok) {
          log.warn("single sign-on refused", { reason: result.reason });
          return refusedTo(result.reason);
        }
        user.id = result.user.id;
        user.email = result.user.email;
        return true;
      },
      /** At sign-in: a new session row; the cookie carries its id and the user's session version. */
      async jwt({ token, user, account }) {
        if (user?.id && account) {
          const claims = await startSession(await getDb(), user.id, getConfig().auth.session_hours);
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

export const { handlers, auth, signIn, signOut } = NextAuth(() => fullAuthConfig());
