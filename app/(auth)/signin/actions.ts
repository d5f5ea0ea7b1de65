"use server";

import { AuthError } from "next-auth";
import { redirect } from "next/navigation";
import { devLoginSchema, signIn, startOidcSignIn } from "@/lib/auth";
import { devLoginUsable } from "@/lib/auth/dev-login";
import { forgetOidcProviderStatus } from "@/lib/auth/oidc";
import { afterSignInPath, originOf } from "@/lib/auth/redirects";
import { getConfig } from "@/lib/config";

export interface DevSignInState {
  errors?: { email?: string[]; name?: string[]; form?: string[] };
  values?: { email: string; name: string };
}

const returnTo = (formData: FormData) => afterSignInPath(formData.get("callbackUrl"), originOf(getConfig().app.base_url));

export async function devSignIn(_prev: DevSignInState, formData: FormData): Promise<DevSignInState> {
  const values = { email: String(formData.get("email") ?? "").trim(), name: String(formData.get("name") ?? "").trim() };
  if (!devLoginUsable()) return { values, errors: { form: ["The development sign-in is turned off."] } };
  const parsed = devLoginSchema.safeParse({ email: values.email, name: values.name || undefined });
  if (!parsed.success) {
    const f = parsed.error.flatten().fieldErrors;
    return { values, errors: { email: f.email, name: f.name } };
  }
  try {
    await signIn("dev", { email: parsed.data.email, name: parsed.data.name ?? "", redirectTo: returnTo(formData) });
  } catch (err) {
    if (err instanceof AuthError) return { values, errors: { form: ["Sign-in failed. Check the e-mail address."] } };
    throw err; // the redirect after a successful sign-in
  }
  return {};
}

/** Single sign-on: off to the identity provider, or (it cannot be reached) to a page that says so. */
export async function oidcSignIn(formData: FormData): Promise<void> {
  const target = await startOidcSignIn(returnTo(formData));
  const issuer = getConfig().auth.oidc?.issuer;
  if (issuer && target.startsWith("/signin/error")) forgetOidcProviderStatus(issuer);
  redirect(target);
}
