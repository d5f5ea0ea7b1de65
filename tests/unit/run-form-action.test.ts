/**
 * runFormAction: the one place where a domain error becomes what the console shows — a state with field
 * errors and the typed values, or Next's not-found, forbidden or sign-in answer.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { redirect } from "next/navigation";
import { getAccessFallbackHTTPStatus, isHTTPAccessFallbackError } from "next/dist/client/components/http-access-fallback/http-access-fallback";
import { getURLFromRedirectError } from "next/dist/client/components/redirect";
import { isRedirectError } from "next/dist/client/components/redirect-error";
import { DomainError, forbidden, notFound, type DomainErrorCode } from "@/lib/errors";
import { allMessages } from "@/lib/forms/action-state";
import { NOT_UNDERSTOOD, runFormAction } from "@/lib/forms/run-form-action";

// next.config.mjs enables forbidden() (experimental.authInterrupts); the build defines this for the server.
beforeAll(() => {
  process.env.__NEXT_EXPERIMENTAL_AUTH_INTERRUPTS = "true";
});
afterEach(() => vi.restoreAllMocks());

const schema = z.object({ clientId: z.string().max(10), name: z.string().default("") });
const spec = { schema, keep: ["name"] as const, what: "naming the thing", logged: ["clientId"] as const };

function post(fields: Record<string, string | Blob>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.set(k, v);
  return fd;
}

/** What runFormAction threw (Next's control flow), or fails. */
async function thrown(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error("expected runFormAction to throw");
}

const failing = (err: unknown) => runFormAction(post({ clientId: "c1", name: "typed" }), spec, async () => Promise.reject(err));

describe("runFormAction", () => {
  it("passes the parsed fields to the command and answers ok, with its data when it returns some", async () => {
    const seen: unknown[] = [];
    expect(await runFormAction(post({ clientId: "c1" }), spec, async (input) => void seen.push(input))).toEqual({ ok: true });
    expect(seen).toEqual([{ clientId: "c1", name: "" }]);
    expect(await runFormAction(post({ clientId: "c1", name: "x" }), spec, async ({ name }) => ({ made: name }))).toEqual({ ok: true, data: { made: "x" } });
  });

  it("invalid: the field errors next to their fields, and what was typed", async () => {
    const state = await failing(new DomainError("invalid", "Check the name.", { name: ["Start with a letter or a digit."] }));
    expect(state).toEqual({ ok: false, errors: { name: ["Start with a letter or a digit."] }, values: { name: "typed" } });
  });

  it("invalid or conflict without field errors: the message for the form as a whole", async () => {
    expect(await failing(new DomainError("invalid", "This key was revoked."))).toEqual({
      ok: false,
      errors: { form: ["This key was revoked."] },
      values: { name: "typed" },
    });
    const conflict = await failing(new DomainError("conflict", "The terms changed."));
    expect(allMessages(conflict)).toEqual(["The terms changed."]);
  });

  it("not_found: Next's not-found page (404)", async () => {
    const err = await thrown(() => failing(notFound("That client does not exist.")));
    expect(isHTTPAccessFallbackError(err) && getAccessFallbackHTTPStatus(err)).toBe(404);
  });

  it("forbidden: the forbidden page (403)", async () => {
    const err = await thrown(() => failing(forbidden("Only administrators can do that.")));
    expect(isHTTPAccessFallbackError(err) && getAccessFallbackHTTPStatus(err)).toBe(403);
  });

  it("unauthenticated: the sign-in page", async () => {
    const err = await thrown(() => failing(new DomainError("unauthenticated", "Sign in.")));
    expect(isRedirectError(err) && getURLFromRedirectError(err)).toBe("/signin");
  });

  it("maps every code of the vocabulary (a new code must be added here)", async () => {
    /** What each code becomes: a state the form shows, or the page Next answers. */
    const expected: Record<DomainErrorCode, string> = {
      unauthenticated: "redirect /signin",
      forbidden: "page 403",
      not_found: "page 404",
      invalid: "state",
      conflict: "state",
    };
    for (const [code, outcome] of Object.entries(expected)) {
      const got = await failing(new DomainError(code as DomainErrorCode, "m")).then(
        (state) => (state.ok === false ? "state" : "ok"),
        (err: unknown) =>
          isHTTPAccessFallbackError(err)
            ? `page ${getAccessFallbackHTTPStatus(err)}`
            : isRedirectError(err)
              ? `redirect ${getURLFromRedirectError(err)}`
              : String(err),
      );
      expect(got, code).toBe(outcome);
    }
  });

  it("a redirect of the command passes through (a created client's page)", async () => {
    const err = await thrown(() => runFormAction(post({ clientId: "c1" }), spec, async () => redirect("/clients/abc?created=1")));
    expect(isRedirectError(err) && getURLFromRedirectError(err)).toBe("/clients/abc?created=1");
  });

  it("any other error is logged with the ids, never its text, and answers a generic message", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
    const state = await failing(new Error('Failed query: insert into api_keys ... params: sk_secret'));
    expect(state).toEqual({
      ok: false,
      errors: { form: ["Something went wrong while naming the thing. Please try again."] },
      values: { name: "typed" },
    });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: "error", msg: "naming the thing failed", clientId: "c1" });
    expect(lines[0]).not.toContain("sk_secret");
    expect(lines[0]).not.toContain("typed");
  });

  it("fields that do not fit the schema: refused before the command runs, the typed values kept", async () => {
    const run = vi.fn(async () => {});
    const state = await runFormAction(post({ clientId: "x".repeat(10_000), name: "typed" }), spec, run);
    expect(state).toEqual({ ok: false, errors: { form: [NOT_UNDERSTOOD] }, values: { name: "typed" } });
    expect(await runFormAction(post({ name: "no id" }), spec, run)).toMatchObject({ ok: false });
    expect(run).not.toHaveBeenCalled();
  });

  it("keeps at most 1000 characters of a typed value, and nothing of a file", async () => {
    const long = await runFormAction(post({ clientId: "c1", name: "n".repeat(5_000) }), spec, async () => Promise.reject(new DomainError("invalid", "m")));
    expect(long.values?.name).toHaveLength(1_000);
    const file = await runFormAction(post({ clientId: "c1", name: new Blob(["x"]) }), spec, async () => Promise.reject(new DomainError("invalid", "m")));
    expect(file.values).toEqual({ name: "" });
  });
});
