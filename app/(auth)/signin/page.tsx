import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { auth } from "@/lib/auth";
import { safeCallbackPath } from "@/lib/auth/base-config";
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
  const callbackUrl = safeCallbackPath(Array.isArray(sp.callbackUrl) ? sp.callbackUrl[0] : sp.callbackUrl);
  const session = await auth();
  if (session?.user) redirect(callbackUrl);
  const config = getConfig();
  const error = typeof sp.error === "string" ? sp.error : undefined;

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
              <AlertDescription>Sign-in did not complete. Please try again.</AlertDescription>
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
          {config.auth.dev_login && <DevSignInForm callbackUrl={callbackUrl} />}
          {!config.auth.oidc && !config.auth.dev_login && (
            <p className="text-sm text-muted-foreground">
              No sign-in method is configured. An administrator must set <code>auth.oidc</code> in config.yaml.
            </p>
          )}
        </CardContent>
      </Card>
    </main>
  );
}
