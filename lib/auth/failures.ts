/**
 * Why Auth.js gave up, for the person and for the log. Auth.js sends every failure it does not
 * consider "client-safe" to the error page as `?error=Configuration` — a tampered or replayed
 * callback, a wrong client secret and an unreachable provider all look alike there, and "ask an
 * administrator" is the wrong advice for most of them. Its logger does see the real error, inside
 * the same request: `trackAuthFailures` runs a request with a slot the logger fills in, and
 * `withFailureCode` puts the closed-vocabulary code (lib/auth/errors.ts) into the error page URL.
 * The codes are fixed words; nothing of the error's text reaches the page.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { log } from "@/lib/log";
import { signInErrorPath } from "./errors";

interface FailureSlot {
  code?: string;
}
const slots = new AsyncLocalStorage<FailureSlot>();

type AuthLikeError = Error & { type?: string; cause?: unknown };

/** The first error below `err` (Auth.js wraps the real one in `cause.err`, fetch in `cause`). */
function causeOf(err: unknown): unknown {
  if (!err || typeof err !== "object") return undefined;
  const cause = (err as { cause?: unknown }).cause;
  if (cause && typeof cause === "object" && "err" in cause) return (cause as { err: unknown }).err;
  return cause;
}

/** The errors in the chain from `err` down its causes, at most `max` deep. */
function* causes(err: unknown, max: number): Generator<Error> {
  for (let e = err, depth = 0; e && depth < max; e = causeOf(e), depth++) if (e instanceof Error) yield e;
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|UND_ERR|other side closed|fetch failed|socket/i;

/** Whether the provider could not be reached (somewhere in the chain of causes: a failed fetch). */
function isNetworkFailure(err: unknown): boolean {
  for (const e of causes(err, 6)) {
    const code = (e as { code?: unknown }).code;
    if (e.name === "AbortError" || e.name === "TimeoutError") return true;
    if (typeof code === "string" && NETWORK.test(code)) return true;
    if (e.name === "TypeError" && NETWORK.test(e.message)) return true;
  }
  return false;
}

/** A callback whose `state` (or nonce) does not match this browser's sign-in (oauth4webapi's words). */
function failedCheck(err: unknown): boolean {
  for (const e of causes(err, 6)) {
    if (/unexpected "(state|nonce)"|"(state|nonce)" (claim )?value mismatch/i.test(e.message)) return true;
  }
  return false;
}

/** The code the person sees for an error Auth.js logged. */
export function failureCode(error: AuthLikeError): string {
  if (isNetworkFailure(error)) return "ProviderUnreachable";
  const type = error.type ?? error.name;
  if (type === "InvalidCheck" || failedCheck(error)) return "InvalidCheck";
  if (type === "CallbackRouteError" || type === "OAuthCallbackError") return "CallbackRouteError";
  if (type === "SignInError" || type === "OAuthSignInError") return "ProviderUnreachable";
  return "Configuration";
}

/** The provider's OAuth error words in an oauth4webapi error (a response body or WWW-Authenticate challenges). */
function providerSaid(e: unknown): string[] {
  const out: string[] = [];
  const said = (e as { error?: unknown } | null)?.error;
  if (typeof said === "string") out.push(said);
  const challenges = (e as { code?: unknown; cause?: unknown } | null)?.cause;
  if (Array.isArray(challenges)) {
    for (const c of challenges) {
      const word = (c as { parameters?: { error?: unknown } })?.parameters?.error;
      if (typeof word === "string") out.push(word);
    }
  }
  return out.map((w) => w.slice(0, 60));
}

/** A short description of the error chain for the log: types and messages, never tokens or cookies. */
function describe(error: AuthLikeError): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; e = causeOf(e), depth++) {
    if (e instanceof Error) {
      const name = (e as AuthLikeError).type ?? e.name;
      const message = e.message.split("Read more at")[0]!.trim().replace(/[.:]$/, "");
      parts.push(message ? `${name}: ${message}`.slice(0, 200) : name);
    }
    for (const word of providerSaid(e)) if (!parts.includes(`the provider answered ${word}`)) parts.push(`the provider answered ${word}`);
  }
  return parts.join(" <- ");
}

/** Auth.js's logger: every failure is logged, and remembered for the request's error page. */
export const authLogger = {
  error(error: AuthLikeError) {
    const code = failureCode(error);
    log.warn("sign-in failed", { type: error.type ?? error.name, shown: code, cause: describe(error) });
    const slot = slots.getStore();
    if (slot && !slot.code) slot.code = code;
  },
  warn(code: string) {
    log.warn("auth.js warning", { code });
  },
  debug() {},
};

/** Runs an Auth.js call; returns its result and the failure code its logger recorded, if any. */
export async function trackAuthFailures<T>(run: () => Promise<T>): Promise<{ result: T; code?: string }> {
  const slot: FailureSlot = {};
  const result = await slots.run(slot, run);
  return { result, code: slot.code };
}

/** A redirect to the error page saying "Configuration", told the real reason instead. */
export function errorLocation(location: string | null, code: string | undefined): string | null {
  if (!location || !code) return null;
  let url: URL;
  try {
    url = new URL(location, "http://placeholder.invalid");
  } catch {
    return null;
  }
  if (url.pathname !== "/signin/error" && url.pathname !== "/signin") return null;
  if (url.searchParams.get("error") !== "Configuration") return null;
  return signInErrorPath(code);
}

/** The route handler's answer with the error page's real reason (see above). */
export function withFailureCode(res: Response, code: string | undefined): Response {
  const location = errorLocation(res.headers.get("location"), code);
  if (!location) return res;
  const out = new Response(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
  out.headers.set("location", location);
  return out;
}
