import NextAuth, { type NextAuthConfig } from "next-auth";
import Credentials from "next-auth/providers/credentials";
import { z } from "zod";
import { getConfig } from "@/lib/config";
import { getDb } from "@/lib/db/client";
import { baseAuthConfig } from "./base-config";
import { upsertUser } from "./users";

export const devLoginSchema = z.object({
  email: z.email({ message: "Enter a valid e-mail address" }).max(254),
  name: z.string().trim().max(100).optional(),
});

function providers(): NextAuthConfig["providers"] {
  const config = getConfig();
  const list: NextAuthConfig["providers"] = [];
  if (config.auth.dev_login) {
    list.push(
      Credentials({
        id: "dev",
        name: "Development sign-in",
        credentials: { email: { label: "E-mail", type: "email" }, name: { label: "Name", type: "text" } },
        async authorize(raw) {
          // Re-read live: turning dev_login off refuses at once, even on an old sign-in page.
          if (!getConfig().auth.dev_login) return null;
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

function fullAuthConfig(): NextAuthConfig {
  const base = baseAuthConfig();
  return {
    ...base,
    providers: providers(),
    callbacks: {
      ...base.callbacks,
      async signIn({ user, account }) {
        if (account?.provider === "oidc") return Boolean(user.email);
        return true;
      },
      async jwt({ token, user, account }) {
        if (user && account) {
          if (account.provider === "dev") {
            token.uid = user.id;
          } else if (user.email) {
            const row = await upsertUser(await getDb(), { email: user.email, name: user.name, image: user.image });
            token.uid = row.id;
            token.email = row.email;
          }
        }
        return token;
      },
    },
  };
}

export const { handlers, auth, signIn, signOut } = NextAuth(() => fullAuthConfig());
