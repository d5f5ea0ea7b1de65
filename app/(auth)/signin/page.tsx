import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { currentViewer } from "@/lib/auth/session";
import { devLoginUsable } from "@/lib/auth/dev-login";
import { signInErrorMessage } from "@/lib/auth/errors";
import { oidcProviderReachable } from "@/lib/auth/oidc";
import { afterSignInPath, originOf } from "@/lib/auth/redirects";
import { getConfig } from "@/lib/config";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Alert, AlertDescription } from "@/components/ui/alert";
import { DevSignInForm } from "@/components/auth/dev-sign-in-form";
import { oidcSignIn } from "./actions";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const sp = await searchParams;
  const config = getConfig();
  const callbackUrl = afterSignInPath(Array.isArray(sp.callbackUrl) ? sp.callbackUrl[0] : sp.callbackUrl, originOf(config.app.base_url));
  if (await currentViewer()) redirect(callbackUrl);
  const error = signInErrorMessage(Array.isArray(sp.error) ? sp.error[0] : sp.error);
  const signedOutEverywhere = sp.signedOut === "everywhere";
  const devLogin = devLoginUsable(config);
  const oidc = config.auth.oidc;
  const oidcReachable = oidc ? await oidcProviderReachable(oidc.issuer) : false;

  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 p-4">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle className="text-xl">Sign in to {config.app.name}</CardTitle>
          <CardDescription>Manage clients, API keys and usage.</CardDescription>
        </CardHeader>
        <CardContent className="space-y-6">
          {error && (
            <Alert variant="destructive" data-testid="sign-in-error">
              <AlertDescription>{error}</AlertDescription>
            </Alert>
          )}
          {signedOutEverywhere && !error && (
            <Alert role="status">
              <AlertDescription>You were signed out on every device and browser.</AlertDescription>
            </Alert>
          )}
          {oidc && oidcReachable && (
            <form action={oidcSignIn}>
              <input type="hidden" name="callbackUrl" value={callbackUrl} />
              <Button type="submit" className="w-full">
                Continue with {oidc.name ?? "single sign-on"}
              </Button>
            </form>
          )}
          {oidc && !oidcReachable && (
            <div className="space-y-3" data-testid="sso-unavailable">
              <Alert role="status" variant="warning">
                <AlertDescription>
                  Single sign-on ({oidc.name ?? "your identity provider"}) is unavailable right now: the identity provider
                  cannot be reached. Try again in a few minutes; if it persists, tell your administrator.
                </AlertDescription>
              </Alert>
              <Button asChild variant="outline" className="w-full">
                <a href={`/signin?callbackUrl=${encodeURIComponent(callbackUrl)}`}>Try again</a>
              </Button>
            </div>
          )}
          {devLogin && <DevSignInForm callbackUrl={callbackUrl} />}
          {!oidc && !devLogin && (
            <p className="text-sm text-muted-foreground">
              No sign-in method is configured. An administrator must set <code>auth.oidc</code> in config.yaml.
            </p>
          )}
        </CardContent>
      </Card>
    </main>
  );
}
