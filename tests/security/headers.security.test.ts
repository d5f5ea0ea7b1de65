/**
 * Security headers on every console page and every other answer, and what they buy in a real browser:
 * no page can be framed (clickjacking of the Deactivate and Revoke confirmations), and the open
 * redirect of the sign-in page is closed in Chromium too.
 */
import { randomUUID } from "node:crypto";
import type { Browser as Chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch } from "../e2e/browser";
import { as, baseURL, get, seed } from "./http";
import type { SignedInActor } from "./seed";

function nonceOf(csp: string): string {
  const m = /'nonce-([^']+)'/.exec(csp);
  expect(m, csp).not.toBeNull();
  return m![1]!;
}

const PAGES: Array<[string, SignedInActor | null, () => string, number]> = [
  ["sign-in", null, () => "/signin", 200],
  ["clients list", "admin", () => "/clients", 200],
  ["client page", "admin", () => `/clients/${seed().clients.alpha}`, 200],
  ["client page (manager)", "managerA", () => `/clients/${seed().clients.alpha}`, 200],
  ["forbidden page", "plain", () => "/clients", 403],
  ["not-found client", "admin", () => `/clients/${randomUUID()}`, 404],
  ["unknown page", "admin", () => "/no-such-page", 404],
];

describe("every console page", () => {
  it.each(PAGES)("%s: CSP with a fresh nonce on every script, no framing, nosniff, referrer and permissions policies", async (_name, actor, path, status) => {
    const browser = actor ? await as(actor) : null;
    const first = await get(path(), browser);
    expect(first.status).toBe(status);
    const csp = first.headers.get("content-security-policy")!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'(;|$)/);
    expect(csp).not.toContain("unsafe-eval");
    expect(first.headers.get("x-frame-options")).toBe("DENY");
    expect(first.headers.get("x-content-type-options")).toBe("nosniff");
    expect(first.headers.get("referrer-policy")).toBe("same-origin");
    expect(first.headers.get("permissions-policy")).toContain("camera=()");
    expect(first.headers.get("strict-transport-security")).toBeNull(); // plain http base_url
    const nonce = nonceOf(csp);
    const html = await first.text();
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    const second = await get(path(), browser);
    expect(nonceOf(second.headers.get("content-security-policy")!)).not.toBe(nonce);
  });

  it.each([
    ["/healthz"],
    ["/api/auth/csrf"],
    ["/icon.svg"],
    ["/metrics"],
  ])("%s carries nosniff, Referrer-Policy and X-Frame-Options as well", async (path) => {
    const res = await get(path);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("same-origin");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  it("Next's static files carry nosniff", async () => {
    const html = await (await get("/signin")).text();
    const src = /<script[^>]+src="([^"]+)"/.exec(html)![1]!;
    const res = await get(src);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("in Chromium", () => {
  let chromium: Chromium;
  beforeAll(async () => {
    chromium = await launch();
  });
  afterAll(async () => {
    await chromium?.close();
  });

  it("a page on another origin cannot frame the console (the confirmations cannot be clickjacked)", async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    // The attacker's page: another origin (a data: URL) framing the console.
    await page.goto(`data:text/html,<h1>Win a prize</h1><iframe src="${baseURL()}/signin" width="600" height="400"></iframe>`);
    await page.waitForTimeout(1500);
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    expect(frame).toBeDefined();
    // Chromium replaces a refused frame by its error page; the console's content never renders.
    expect(frame.url()).toMatch(/^chrome-error:/);
    const framed = await frame.evaluate(() => document.body?.innerText ?? "").catch(() => "");
    expect(framed).not.toContain("Sign in to");
    await context.close();
  });

  it("the sign-in page's return address cannot lead to another origin", async () => {
    const context = await chromium.newContext({ baseURL: baseURL() });
    const page = await context.newPage();
    await page.goto(`/signin?callbackUrl=${encodeURIComponent("/\t/localhost:3999/phish")}`);
    await page.waitForSelector("html[data-hydrated]", { state: "attached" });
    await page.getByLabel("E-mail").fill("chromium@example.com");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/signin"));
    expect(new URL(page.url()).origin).toBe(baseURL());
    // Signed in now: the same link answers with a redirect that stays here.
    await page.goto(`/signin?callbackUrl=${encodeURIComponent("/\t/localhost:3999/phish")}`);
    expect(new URL(page.url()).origin).toBe(baseURL());
    expect(new URL(page.url()).pathname).toBe("/clients");
    await context.close();
  });
});
