/**
 * The console works in Chromium with its Content-Security-Policy on (nonce-based scripts,
 * frame-ancestors 'none'): every page hydrates, dialogs and menus open, and the browser reports no
 * CSP violation at all.
 */
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { expect, hydrated, launch, newContext, screenshot, signIn } from "./browser";
import { USERS } from "./fixtures";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

/** Watches a page for CSP violations: the DOM event and Chromium's console report. */
async function watched(): Promise<{ page: Page; violations: string[] }> {
  const ctx = await newContext(browser);
  await ctx.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await ctx.newPage();
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy|CSP violation/i.test(m.text())) violations.push(m.text());
  });
  return { page, violations };
}

describe("Content-Security-Policy in Chromium", () => {
  it("every console page runs under the CSP with no violation", async () => {
    const { page, violations } = await watched();
    const response = await page.goto("/signin");
    expect(response?.headers()["content-security-policy"]).toContain("'strict-dynamic'");
    await hydrated(page);

    await signIn(page, USERS.admin, "/clients");
    await hydrated(page);
    await page.getByTestId("new-client").first().click();
    await page.getByRole("dialog").waitFor();
    await page.keyboard.press("Escape");

    await page.goto(`/clients/${inject("clientIds")["research-bot"]}`);
    await hydrated(page);
    await page.getByTestId("user-menu").click();
    await page.getByRole("menuitem", { name: /Sign out everywhere/ }).waitFor();
    await screenshot(page, "user-menu");
    await page.keyboard.press("Escape");

    await page.goto("/no-such-page");
    await hydrated(page);
    await page.goto("/clients/00000000-0000-4000-8000-000000000000");
    await hydrated(page);

    expect(violations).toEqual([]);
    await page.context().close();
  });

  it("a manager's pages and the 403 page too", async () => {
    for (const email of [USERS.manager, USERS.plain]) {
      const { page, violations } = await watched();
      await signIn(page, email, "/clients");
      await hydrated(page);
      expect(violations).toEqual([]);
      await page.context().close();
    }
  });
});
