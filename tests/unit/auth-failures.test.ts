import { describe, expect, it, vi } from "vitest";
import { authLogger, errorLocation, failureCode, trackAuthFailures, withFailureCode } from "@/lib/auth/failures";

/** Auth.js's shape: an error with a `type`, the real one in `cause.err`. */
const authError = (type: string, err?: unknown, message = "Read more at https://errors.authjs.dev") =>
  Object.assign(new Error(message), { type, cause: err === undefined ? undefined : { err } });
const fetchFailed = (code: string) => new TypeError("fetch failed", { cause: Object.assign(new Error(`connect ${code}`), { code }) });

describe("what the person is told (the error page's code)", () => {
  it("a provider that cannot be reached, at any depth", () => {
    expect(failureCode(fetchFailed("ECONNREFUSED"))).toBe("ProviderUnreachable");
    expect(failureCode(authError("CallbackRouteError", fetchFailed("ECONNRESET")))).toBe("ProviderUnreachable");
    expect(failureCode(authError("SignInError", new Error("whatever")))).toBe("ProviderUnreachable");
  });

  it("a missing state cookie or a state that does not match: start again", () => {
    expect(failureCode(authError("InvalidCheck"))).toBe("InvalidCheck");
    expect(failureCode(authError("CallbackRouteError", new Error('unexpected "state" response parameter value')))).toBe("InvalidCheck");
  });

  it("the provider refused the code exchange; anything else is configuration", () => {
    expect(failureCode(authError("CallbackRouteError", Object.assign(new Error("server responded with an error"), { error: "invalid_grant" })))).toBe(
      "CallbackRouteError",
    );
    expect(failureCode(authError("MissingSecret"))).toBe("Configuration");
  });
});

describe("the error page URL", () => {
  it("only Auth.js's generic Configuration redirect to our pages is rewritten", () => {
    expect(errorLocation("http://127.0.0.1:3000/signin/error?error=Configuration", "InvalidCheck")).toBe("/signin/error?error=InvalidCheck");
    expect(errorLocation("/signin?error=Configuration", "ProviderUnreachable")).toBe("/signin/error?error=ProviderUnreachable");
    expect(errorLocation("/signin/error?error=AccessDenied", "InvalidCheck")).toBeNull();
    expect(errorLocation("https://id.example.org/authorize?x=1", "InvalidCheck")).toBeNull();
    expect(errorLocation("/signin/error?error=Configuration", undefined)).toBeNull();
    expect(errorLocation(null, "InvalidCheck")).toBeNull();
  });

  it("the logger's failure reaches the response of the same request, cookies kept", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { result, code } = await trackAuthFailures(async () => {
      authLogger.error(authError("InvalidCheck"));
      const headers = new Headers({ location: "http://127.0.0.1:3000/signin/error?error=Configuration" });
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/");
      return new Response(null, { status: 302, headers });
    });
    const res = withFailureCode(result, code);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/signin/error?error=InvalidCheck");
    expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    // Another request knows nothing of it.
    expect((await trackAuthFailures(async () => 1)).code).toBeUndefined();
  });

  it("the log names the provider's answer, never more than the words", () => {
    const lines: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: string) => void lines.push(line));
    const challenge = Object.assign(new Error("server responded with a challenge in the WWW-Authenticate HTTP Header"), {
      cause: [{ scheme: "basic", parameters: { error: "invalid_client" } }],
    });
    authLogger.error(authError("CallbackRouteError", challenge));
    expect(lines.at(-1)).toContain("the provider answered invalid_client");
    expect(lines.at(-1)).toContain('"shown":"CallbackRouteError"');
  });
});
