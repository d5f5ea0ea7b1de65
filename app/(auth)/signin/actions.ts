"use server";

import { AuthError } from "next-auth";
import { redirect } from "next/navigation";
import { z } from "zod";
import { devLoginSchema, signIn, startOidcSignIn } from "@/lib/auth";
import { devLoginUsable } from "@/lib/auth/dev-login";
import { forgetOidcProviderStatus } from "@/lib/auth/oidc";
import { afterSignInPath, originOf } from "@/lib/auth/redirects";
import { getConfig } from "@/lib/config";
import { DomainError } from "@/lib/errors";
import type { ActionState } from "@/lib/forms/action-state";
import { runFormAction } from "@/lib/forms/run-form-action";

export type DevSignInState = ActionState<void, "email" | "name">;

const devSignInForm = z.object({
  email: z.string().default(""),
  name: z.string().default(""),
  callbackUrl: z.string().optional(),
});

const returnTo = (callbackUrl: unknown) => afterSignInPath(callbackUrl, originOf(getConfig().app.base_url));

export async function devSignIn(_prev: DevSignInState, formData: FormData): Promise<DevSignInState> {
  return runFormAction(formData, { schema: devSignInForm, keep: ["email", "name"], what: "signing in" }, async (input) => {
    if (!devLoginUsable()) throw new DomainError("invalid", "The development sign-in is turned off.");
    const parsed = devLoginSchema.safeParse({ email: input.email.trim(), name: input.name.trim() || undefined });
    if (!parsed.success) {
      const { email, name } = z.flattenError(parsed.error).fieldErrors;
      throw new DomainError("invalid", "Check the form.", { ...(email && { email }), ...(name && { name }) });
    }
    try {
      await signIn("dev", { email: parsed.data.email, name: parsed.data.name ?? "", redirectTo: returnTo(input.callbackUrl) });
    } catch (err) {
      if (err instanceof AuthError) throw new DomainError("invalid", "Sign-in failed. Check the e-mail address.");
      throw err; // the redirect after a successful sign-in
    }
  });
}

/** Single sign-on: off to the identity provider, or (it cannot be reached) to a page that says so. */
export async function oidcSignIn(formData: FormData): Promise<void> {
  const target = await startOidcSignIn(returnTo(formData.get("callbackUrl")));
  const issuer = getConfig().auth.oidc?.issuer;
  if (issuer && target.startsWith("/signin/error")) forgetOidcProviderStatus(issuer);
  redirect(target);
}
