import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { expect, inject } from "vitest";

export const SCREENSHOTS = path.join(process.cwd(), "tests", "e2e", "screenshots");

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

export async function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ baseURL: inject("baseURL"), viewport: { width: 1280, height: 900 }, locale: "en-US" });
}

/** Fills the development sign-in form; lands wherever the sign-in page was asked to return to. */
export async function signIn(page: Page, email: string, returnTo = "/clients") {
  if (!page.url().includes("/signin")) await page.goto(`/signin?callbackUrl=${encodeURIComponent(returnTo)}`);
  await hydrated(page);
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/signin"));
  await hydrated(page);
}

/** Waits until the current document has hydrated, so clicks reach React handlers. */
export async function hydrated(page: Page) {
  await page.waitForSelector("html[data-hydrated]", { state: "attached" });
  await page.waitForLoadState("networkidle");
}

export async function screenshot(page: Page, name: string) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const suffix = process.env.E2E_DATABASE_URL ? "postgres" : "pglite";
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${suffix}.png`), fullPage: true });
  await nudge(page);
}

/**
 * Asks the page for an animation frame. Headless Chromium renders frames on demand, and a React
 * transition (a client-side navigation) can sit waiting for one; a real display never stalls there.
 */
export async function nudge(page: Page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
}

/** Retries an assertion until it holds (pages update after client-side navigation). */
export async function eventually(fn: () => Promise<void> | void, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function columnTexts(page: Page, index: number): Promise<string[]> {
  return page.locator(`[data-testid=client-row] td:nth-child(${index})`).allInnerTexts();
}

export { expect };
