/**
 * Single sign-on that fails or is refused, as a person sees it (a page that says why, never a 500)
 * and as the operator sees it (a log line): an unverified e-mail (even the administrator's address),
 * an e-mail outside auth.oidc.allowed_domains, a tampered `state`, a replayed callback, a wrong client
 * secret, a provider that goes down during sign-in, and one that cannot be reached when Lumen starts.
 */
import fs from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGN_IN_ERRORS } from "@/lib/auth/errors";
import { freePort } from "../helpers/net";
import { assertBuilt, createDatabase, loginAtProvider, reverseProxy, settled, shot, startLumen, suiteBrowser, type Lumen, type SuiteBrowser } from "./harness";
import { CLIENT_SECRET, PROVIDER_NAME, startProvider, type TestProvider } from "./provider";

let db: { url: string; drop(): Promise<void> };
let provider: TestProvider;
let lumen: Lumen;
let browser: SuiteBrowser;
let proxy: { port: number; close(): Promise<void> };

/**
 * Lumen is reached through a pass-through proxy that can hold the provider's answer (the callback
 * URL with its code and state) instead of delivering it, so a test can alter or replay it.
 */
let holdNextCallback = false;
let heldCallback = "";

beforeAll(async () => {
  assertBuilt();
  db = await createDatabase();
  const port = await freePort();
  proxy = await reverseProxy(port, (req, res) => {
    if (!holdNextCallback || !req.url?.startsWith("/api/auth/callback/oidc")) return false;
    holdNextCallback = false;
    heldCallback = `${lumen.baseURL}${req.url}`;
    res.writeHead(200, { "content-type": "text/plain" }).end("held by the test");
    return true;
  });
  const base = `http://127.0.0.1:${proxy.port}`;
  provider = await startProvider([`${base}/api/auth/callback/oidc`]);
  await settled([
    startLumen({ port, baseURL: base, issuer: provider.issuer, databaseUrl: db.url }).then((l) => (lumen = l)),
    suiteBrowser().then((b) => (browser = b)),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await lumen?.stop();
  await proxy?.close();
  await provider?.close();
  await db?.drop();
});

function newPage(baseURL = lumen.baseURL): Promise<Page> {
  return browser.newPage(baseURL);
}

const button = (page: Page) => page.getByRole("button", { name: `Continue with ${PROVIDER_NAME}` });

/** Sign-in up to the provider's answer; returns Lumen's callback URL without delivering it. */
async function callbackURL(page: Page, account: string): Promise<string> {
  heldCallback = "";
  holdNextCallback = true;
  await page.goto("/signin");
  await button(page).click();
  await loginAtProvider(page, provider.issuer, account);
  await expect.poll(() => heldCallback).not.toBe("");
  return heldCallback;
}

/** The sign-in error page: its message, a Try-again link back to sign-in, and no session. */
async function expectErrorPage(page: Page, message: string) {
  await page.waitForURL((u) => u.origin === lumen.baseURL && u.pathname === "/signin/error");
  await expect(page.getByTestId("sign-in-error").innerText()).resolves.toBe(message);
  await expect(page.getByRole("link", { name: "Try again" }).getAttribute("href")).resolves.toBe("/signin");
  const res = await page.request.get("/clients", { maxRedirects: 0 });
  expect(res.status()).toBe(307);
}

/** Waits until the server's log has a line with all these parts. */
async function expectLogged(...parts: string[]) {
  await expect.poll(() => lumen.log().split("\n").some((line) => parts.every((p) => line.includes(p)))).toBe(true);
}

describe("refused identities", () => {
  it("an e-mail the provider has not verified is refused, even the administrator's address", async () => {
    const page = await newPage();
    await page.goto("/signin");
    await button(page).click();
    await loginAtProvider(page, provider.issuer, "mallory");
    await expectErrorPage(page, SIGN_IN_ERRORS.EmailNotVerified!);
    await shot(page, "refused-unverified");
    await expectLogged("single sign-on refused", "EmailNotVerified");
  });

  it("an e-mail outside auth.oidc.allowed_domains is refused", async () => {
    const page = await newPage();
    await page.goto("/signin");
    await button(page).click();
    await loginAtProvider(page, provider.issuer, "olga");
    await expectErrorPage(page, SIGN_IN_ERRORS.DomainNotAllowed!);
    await expectLogged("single sign-on refused", "DomainNotAllowed");
  });
});

describe("a callback that is not the one this browser asked for", () => {
  it("a tampered state is refused", async () => {
    const page = await newPage();
    const url = new URL(await callbackURL(page, "pat"));
    const state = url.searchParams.get("state")!;
    url.searchParams.set("state", state.slice(0, -4) + (state.endsWith("AAAA") ? "BBBB" : "AAAA"));
    await page.goto(url.href);
    await expectErrorPage(page, SIGN_IN_ERRORS.InvalidCheck!);
    await shot(page, "refused-tampered-state");
    await expectLogged("sign-in failed", "InvalidCheck");
  });

  it("a replayed callback is refused: in the same browser after use, and in another browser", async () => {
    const page = await newPage();
    const url = await callbackURL(page, "pat");
    await page.goto(url);
    await page.waitForURL((u) => u.pathname === "/clients");
    // The same callback again, in the same browser (its state cookie is spent)…
    await page.goto(url);
    await page.waitForURL((u) => u.pathname.startsWith("/signin"));
    expect(new URL(page.url()).pathname).toBe("/signin/error");
    await expect(page.getByTestId("sign-in-error").innerText()).resolves.toBe(SIGN_IN_ERRORS.InvalidCheck);
    // …and in another one (a leaked URL): refused, no session.
    const other = await newPage();
    await other.goto(url);
    await expectErrorPage(other, SIGN_IN_ERRORS.InvalidCheck!);
    await expectLogged("sign-in failed", "InvalidCheck", "state cookie was missing");
  });

  it("a code replayed with a fresh state of this browser is refused by the provider", async () => {
    const page = await newPage();
    const first = new URL(await callbackURL(page, "pat"));
    await page.goto(first.href);
    await page.waitForURL((u) => u.pathname === "/clients");
    // A new sign-in in this browser (new state), answered with the old, spent code.
    await page.context().clearCookies();
    const second = new URL(await callbackURL(page, "pat"));
    second.searchParams.set("code", first.searchParams.get("code")!);
    await page.goto(second.href);
    await page.waitForURL((u) => u.pathname === "/signin/error");
    await expect(page.getByTestId("sign-in-error").innerText()).resolves.toBe(SIGN_IN_ERRORS.CallbackRouteError);
    await expectLogged("sign-in failed", "CallbackRouteError", "invalid_grant");
  });
});

describe("a wrong client secret", () => {
  it("is refused by the provider; the person reads that sign-on is not confirmed, the log says why", async () => {
    const config = fs.readFileSync(lumen.configFile, "utf8");
    const reloads = () => lumen.log().split("config reloaded").length;
    const before = reloads();
    fs.writeFileSync(lumen.configFile, config.replace(CLIENT_SECRET, "not-the-secret"));
    try {
      await expect.poll(reloads, { timeout: 10_000 }).toBeGreaterThan(before);
      const page = await newPage();
      await page.goto("/signin");
      await button(page).click();
      await loginAtProvider(page, provider.issuer, "pat");
      await expectErrorPage(page, SIGN_IN_ERRORS.CallbackRouteError!);
      await shot(page, "refused-wrong-secret");
      await expectLogged("sign-in failed", "CallbackRouteError", "invalid_client");
    } finally {
      const mid = reloads();
      fs.writeFileSync(lumen.configFile, config);
      await expect.poll(reloads, { timeout: 10_000 }).toBeGreaterThan(mid);
    }
  });
});

describe("the provider cannot be reached", () => {
  it("down when the button is pressed: an error page with a way to try again", async () => {
    const page = await newPage();
    await page.goto("/signin");
    await button(page).waitFor();
    provider.down();
    try {
      await button(page).click();
      await expectErrorPage(page, SIGN_IN_ERRORS.ProviderUnreachable!);
      await shot(page, "provider-down-at-sign-in");
      await expectLogged("sign-in failed", "ProviderUnreachable");
    } finally {
      provider.up();
    }
    await page.getByRole("link", { name: "Try again" }).click();
    await button(page).waitFor();
  });

  it("down while the provider sends the browser back: the error page, no 500", async () => {
    const page = await newPage();
    const url = await callbackURL(page, "pat");
    provider.down();
    try {
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      await expectErrorPage(page, SIGN_IN_ERRORS.ProviderUnreachable!);
    } finally {
      provider.up();
    }
  });

  it("unreachable when Lumen starts: Lumen starts, and its sign-in page says single sign-on is unavailable", async () => {
    const deadIssuer = `http://127.0.0.1:${await freePort()}`;
    const port = await freePort();
    const other = await startLumen({ port, baseURL: `http://127.0.0.1:${port}`, issuer: deadIssuer, databaseUrl: db.url });
    try {
      const page = await newPage(other.baseURL);
      const res = await page.goto("/signin");
      expect(res?.status()).toBe(200);
      await expect(page.getByTestId("sso-unavailable").innerText()).resolves.toContain(
        `Single sign-on (${PROVIDER_NAME}) is unavailable right now`,
      );
      expect(await button(page).count()).toBe(0);
      await shot(page, "provider-unreachable-at-start");
      expect(other.log()).toContain("single sign-on provider unavailable");
      // A signed-out visit to the console still lands on that page (not a 500).
      const clients = await page.goto("/clients");
      expect(clients?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe("/signin");
    } finally {
      await other.stop();
    }
  });
});
