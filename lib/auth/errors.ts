/**
 * Why a sign-in did not complete, in words a person can act on. One table for every place that
 * shows it: the sign-in page (`/signin?error=CODE`, Auth.js's sign-in errors) and the sign-in error
 * page (`/signin/error?error=CODE`: Auth.js's other errors, our refusals in lib/auth/index.ts, a
 * provider that cannot be reached). Codes are Auth.js's error types and our own; anything else
 * reads as the generic message, so a crafted `?error=` can never put text on the page.
 */
export const SIGN_IN_ERRORS: Record<string, string> = {
  // Refused by Lumen's rules (lib/auth/users.ts).
  EmailNotVerified:
    "Your identity provider has not verified your e-mail address. Verify it with your provider, then sign in again.",
  EmailMissing: "Your identity provider did not share an e-mail address. Lumen needs one to sign you in.",
  DomainNotAllowed: "Accounts with this e-mail domain cannot sign in here. Use your organisation's account.",
  EmailInUse: "This e-mail address already belongs to another sign-in identity. Ask an administrator for help.",
  // The identity provider or the round trip failed.
  ProviderUnreachable:
    "The identity provider cannot be reached right now, so single sign-on is unavailable. Try again in a few minutes.",
  OAuthSignInError:
    "The identity provider cannot be reached right now, so single sign-on is unavailable. Try again in a few minutes.",
  InvalidCheck:
    "This sign-in link is no longer valid (it was already used, it expired, or it was altered). Start the sign-in again.",
  CallbackRouteError:
    "The identity provider did not confirm this sign-in. Start the sign-in again; if it keeps failing, ask an administrator to check the single sign-on settings.",
  OAuthCallbackError: "The identity provider refused the sign-in. Start the sign-in again.",
  AccessDenied: "You are not allowed to sign in here.",
  Configuration: "Single sign-on is not set up correctly. Ask an administrator to check the server's log.",
};
export const GENERIC_SIGN_IN_ERROR = "Sign-in did not complete. Please try again.";

/** The message for an `error` query parameter (undefined when there is none). */
export function signInErrorMessage(code: unknown): string | undefined {
  if (code === undefined || code === null || code === "") return undefined;
  return (typeof code === "string" && Object.hasOwn(SIGN_IN_ERRORS, code) ? SIGN_IN_ERRORS[code] : undefined) ?? GENERIC_SIGN_IN_ERROR;
}

/** Where a refused or failed single sign-on sends the browser (a path on the console's origin). */
export function signInErrorPath(code: string): string {
  return `/signin/error?error=${encodeURIComponent(code)}`;
}
