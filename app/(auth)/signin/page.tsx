import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { currentViewer } from "@/lib/auth/session";
import { devLoginUsable } from "@/lib/auth/dev-login";
import { afterSignInPath, originOf } from "@/lib/auth/redirects";
import { getConfig } from "@/lib/config";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Alert, AlertDescription } from "@/components/ui/alert";
import { DevSignInForm } from "@/components/auth/dev-sign-in-form";
import { oidcSignIn } from "./actions";

export const metadata: Metadata = { title: "Sign in" };

/** What went wrong, by the `error` code Auth.js (or our OIDC checks, lib/auth/index.ts) sent back. */
const ERRORS: Record<string, string> = {
  EmailNotVerified:
    "Your identity provider has not verified your e-mail address. Verify it with your provider, then sign in again.",
  EmailMissing: "Your identity provider did not share an e-mail address. Lumen needs one to sign you in.",
  DomainNotAllowed: "Accounts with this e-mail domain cannot sign in here. Use your organisation's account.",
  EmailInUse:
    "This e-mail address already belongs to another sign-in identity. Ask an administrator for help.",
};
const GENERIC_ERROR = "Sign-in did not complete. Please try again.";

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const sp = await searchParams;
  const config = getConfig();
  const callbackUrl = afterSignInPath(Array.isArray(sp.callbackUrl) ? sp.callbackUrl[0] : sp.callbackUrl, originOf(config.app.base_url));
  if (await currentViewer()) redirect(callbackUrl);
  const error = typeof sp.error === "string" ? (ERRORS[sp.error] ?? GENERIC_ERROR) : undefined;
  const signedOutEverywhere = sp.signedOut === "everywhere";
  const devLogin = devLoginUsable(config);

  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 p-4">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle className="text-xl">Sign in to {config.app.name}</CardTitle>
          <CardDescription>Manage clients, API keys and usage.</CardDescription>
        </CardHeader>
        <CardContent className="space-y-6">
          {error && (
            <Alert variant="destructive">
              <AlertDescription>{error}</AlertDescription>
            </Alert>
          )}
          {signedOutEverywhere && !error && (
            <Alert role="status">
              <AlertDescription>You were signed out on every device and browser.</AlertDescription>
            </Alert>
          )}
          {config.auth.oidc && (
            <form action={oidcSignIn}>
              <input type="hidden" name="callbackUrl" value={callbackUrl} />
              <Button type="submit" className="w-full">
                Continue with {config.auth.oidc.name ?? "single sign-on"}
              </Button>
            </form>
          )}
          {devLogin && <DevSignInForm callbackUrl={callbackUrl} />}
          {!config.auth.oidc && !devLogin && (
            <p className="text-sm text-muted-foreground">
              No sign-in method is configured. An administrator must set <code>auth.oidc</code> in config.yaml.
            </p>
          )}
        </CardContent>
      </Card>
    </main>
  );
}
