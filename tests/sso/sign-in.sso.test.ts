/**
 * Single sign-on round trips in Chromium against a real OpenID provider: the sign-in page names the
 * provider, its login and consent pages, and back on Lumen's own origin (app.base_url, 127.0.0.1 —
 * never `localhost`) as an administrator (by group, by e-mail), a manager (on the deep link they
 * started from) or a plain user; sign-out; admin rights that follow the provider's groups; and the
 * same round trip behind a reverse proxy (app.trust_proxy) on a public host name.
 */
import { sql } from "drizzle-orm";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@/lib/db/client";
import { freePort } from "../helpers/net";
import {
  assertBuilt,
  createDatabase,
  loginAtProvider,
  PUBLIC_HOST,
  reverseProxy,
  settled,
  shot,
  startLumen,
  suiteBrowser,
  type Lumen,
  type SuiteBrowser,
  type Seed,
} from "./harness";
import { PROVIDER_NAME, startProvider, type TestProvider } from "./provider";

let db: { url: string; seed: Seed; drop(): Promise<void> };
let provider: TestProvider;
let lumen: Lumen;
let behind: Lumen;
let proxy: { port: number; close(): Promise<void> };
let browser: SuiteBrowser;

beforeAll(async () => {
  assertBuilt();
  db = await createDatabase();
  const [port, behindPort] = [await freePort(), await freePort()];
  proxy = await reverseProxy(behindPort);
  const base = `http://127.0.0.1:${port}`;
  const publicBase = `http://${PUBLIC_HOST}:${proxy.port}`;
  provider = await startProvider([`${base}/api/auth/callback/oidc`, `${publicBase}/api/auth/callback/oidc`]);
  await settled([
    startLumen({ port, baseURL: base, issuer: provider.issuer, databaseUrl: db.url }).then((l) => (lumen = l)),
    startLumen({ port: behindPort, baseURL: publicBase, issuer: provider.issuer, databaseUrl: db.url, trustProxy: true }).then((l) => (behind = l)),
    suiteBrowser().then((b) => (browser = b)),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await lumen?.stop();
  await behind?.stop();
  await proxy?.close();
  await provider?.close();
  await db?.drop();
});

function newPage(baseURL = lumen.baseURL): Promise<Page> {
  return browser.newPage(baseURL);
}

/** From a signed-out page on `path`: Lumen's sign-in, the provider, and back. */
async function signInVia(page: Page, path: string, account: string, shots?: string, origin = lumen.baseURL) {
  await page.goto(path);
  await page.waitForURL((u) => u.pathname === "/signin");
  if (shots) await shot(page, `${shots}-1-lumen-sign-in`);
  await page.getByRole("button", { name: `Continue with ${PROVIDER_NAME}` }).click();
  await loginAtProvider(page, provider.issuer, account, shots);
  // Back at Lumen: where it was going, or (a failure, reported at once) its sign-in error page.
  await page.waitForURL((u) => u.origin === origin && (!u.pathname.startsWith("/signin") || u.pathname === "/signin/error"));
  if (new URL(page.url()).pathname === "/signin/error") throw new Error(`sign-in failed: ${page.url()}`);
  await page.waitForLoadState("networkidle");
}

async function signOut(page: Page) {
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: /^Sign out$/ }).click();
  await page.waitForURL((u) => u.pathname === "/signin");
}

describe("the sign-in page", () => {
  it("offers the provider by its name, and no development sign-in", async () => {
    const page = await newPage();
    const res = await page.goto("/signin");
    expect(res?.status()).toBe(200);
    await expect(page.getByRole("button", { name: `Continue with ${PROVIDER_NAME}` }).isVisible()).resolves.toBe(true);
    expect(await page.getByLabel("E-mail").count()).toBe(0);
  });
});

describe("round trips through the provider", () => {
  it("an administrator by group lands on /clients, on 127.0.0.1 (app.base_url), as administrator", async () => {
    const page = await newPage();
    const redirectUris: string[] = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.origin === provider.issuer && u.searchParams.has("redirect_uri")) redirectUris.push(u.searchParams.get("redirect_uri")!);
    });
    await signInVia(page, "/clients", "ada", "admin");
    expect(redirectUris).toEqual([`${lumen.baseURL}/api/auth/callback/oidc`]);
    expect(page.url()).toBe(`${lumen.baseURL}/clients`);
    await expect(page.getByTestId("signed-in-user").innerText()).resolves.toContain("ada@example.org");
    await expect(page.getByText("Admin", { exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.getByText("physics-bot").isVisible()).resolves.toBe(true);
    await shot(page, "admin-4-back-on-clients");
  });

  it("an administrator by e-mail (admins:, verified by the provider) is one too", async () => {
    const page = await newPage();
    await signInVia(page, "/clients", "bea");
    expect(page.url()).toBe(`${lumen.baseURL}/clients`);
    await expect(page.getByText("Admin", { exact: true }).isVisible()).resolves.toBe(true);
  });

  it("a manager comes back to the deep link they started from, without admin rights", async () => {
    const page = await newPage();
    await signInVia(page, `/clients/${db.seed.clientId}`, "max", "manager");
    expect(page.url()).toBe(`${lumen.baseURL}/clients/${db.seed.clientId}`);
    await expect(page.getByRole("heading", { name: "physics-bot" }).first().isVisible()).resolves.toBe(true);
    expect(await page.getByText("Admin", { exact: true }).count()).toBe(0);
    await shot(page, "manager-4-deep-link");
  });

  it("a plain user sees that they manage no clients", async () => {
    const page = await newPage();
    await signInVia(page, "/clients", "pat", "plain");
    expect(page.url()).toBe(`${lumen.baseURL}/clients`);
    await expect(page.getByTestId("forbidden").innerText()).resolves.toContain("You don’t manage any clients".replace("’", "'"));
    await shot(page, "plain-4-no-clients");
  });

  it("sign-out ends the session at Lumen: the page and the old cookie are signed out", async () => {
    const page = await newPage();
    await signInVia(page, "/clients", "bea");
    const cookies = await page.context().cookies();
    await signOut(page);
    await page.goto("/clients");
    expect(new URL(page.url()).pathname).toBe("/signin");
    // The cookie from before sign-out, replayed, is worthless (the session row has ended).
    const res = await fetch(`${lumen.baseURL}/clients`, {
      redirect: "manual",
      headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; ") },
    });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toContain("/signin");
  });
});

describe("administrators by the provider's groups (auth.oidc.admin_groups)", () => {
  it("someone removed from the group keeps rights until the session ends, and loses them at the next sign-in", async () => {
    const page = await newPage();
    await signInVia(page, "/clients", "ada");
    await expect(page.getByText("Admin", { exact: true }).isVisible()).resolves.toBe(true);
    provider.accounts.ada!.groups = ["staff"];
    try {
      await signOut(page);
      // The provider remembers her (its own session and her consent): straight back, now without the group.
      await page.getByRole("button", { name: `Continue with ${PROVIDER_NAME}` }).click();
      await page.waitForURL((u) => u.origin === lumen.baseURL && u.pathname === "/clients");
      await expect(page.getByTestId("forbidden").isVisible()).resolves.toBe(true);
    } finally {
      provider.accounts.ada!.groups = ["staff", "lumen-admins"];
    }
  });

  it("a single sign-on session ends auth.oidc.reauthenticate_hours after sign-in, even while in use", async () => {
    const page = await newPage();
    await signInVia(page, "/clients", "ada");
    await expect(page.getByText("Admin", { exact: true }).isVisible()).resolves.toBe(true);
    const handle = await openDatabase({ url: db.url });
    try {
      // Signed in 25 hours ago (the default is 24), used a moment ago.
      await handle.db.execute(
        sql`update user_sessions set created_at = now() - interval '25 hours' where ended_at is null and idp_groups is not null and user_id = (select id from users where email = 'ada@example.org')`,
      );
    } finally {
      await handle.close();
    }
    await page.goto("/clients");
    expect(new URL(page.url()).pathname).toBe("/signin");
  });
});

describe("behind a reverse proxy (app.trust_proxy: true, a public host name in app.base_url)", () => {
  it("the round trip stays on the public origin", async () => {
    const publicBase = `http://${PUBLIC_HOST}:${proxy.port}`;
    const page = await newPage(publicBase);
    const redirectUris: string[] = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.origin === provider.issuer && u.searchParams.has("redirect_uri")) redirectUris.push(u.searchParams.get("redirect_uri")!);
    });
    await signInVia(page, `/clients/${db.seed.clientId}`, "ada", "proxy", publicBase);
    expect(redirectUris).toEqual([`${publicBase}/api/auth/callback/oidc`]);
    expect(page.url()).toBe(`${publicBase}/clients/${db.seed.clientId}`);
    await expect(page.getByText("Admin", { exact: true }).isVisible()).resolves.toBe(true);
    await shot(page, "proxy-4-back");
  });
});
