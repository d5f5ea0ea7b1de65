import type { Metadata } from "next";
import { signInErrorMessage, GENERIC_SIGN_IN_ERROR } from "@/lib/auth/errors";
import { getConfig } from "@/lib/config";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Alert, AlertDescription } from "@/components/ui/alert";

export const metadata: Metadata = { title: "Sign-in failed" };

/**
 * Where a single sign-on that failed or was refused ends (Auth.js's error page, our refusals in
 * lib/auth/index.ts, an identity provider that cannot be reached): what happened, and a way back.
 */
export default async function SignInErrorPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const sp = await searchParams;
  const message = signInErrorMessage(Array.isArray(sp.error) ? sp.error[0] : sp.error) ?? GENERIC_SIGN_IN_ERROR;
  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 p-4">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle className="text-xl">You are not signed in to {getConfig().app.name}</CardTitle>
        </CardHeader>
        <CardContent className="space-y-6">
          <Alert variant="destructive" data-testid="sign-in-error">
            <AlertDescription>{message}</AlertDescription>
          </Alert>
          <Button asChild className="w-full">
            <a href="/signin">Try again</a>
          </Button>
        </CardContent>
      </Card>
    </main>
  );
}
