import { afterAll, beforeAll, describe, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { eventually, expect, hydrated, launch, newContext, screenshot, signIn } from "./browser";
import { KEY_LIST_LIMIT } from "@/lib/keys/queries";
import { USERS } from "./fixtures";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

async function openClient(email: string, name: string): Promise<Page> {
  const ctx = await newContext(browser);
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"]);
  const page = await ctx.newPage();
  await signIn(page, email, `/clients/${inject("clientIds")[name]}`);
  await hydrated(page);
  return page;
}

describe("client detail page", () => {
  it("shows usage cards, managers, keys, model access and the connect snippet", async () => {
    const page = await openClient(USERS.admin, "research-bot");
    expect(await page.getByTestId("client-name").innerText()).toBe("research-bot");
    // 750,000 seeded, plus whatever the /v1 suite's calls with research-bot's key added (files run in any order)
    await expect(page.getByTestId("card-total-tokens-used").innerText()).resolves.toMatch(/750,\d{3}/);
    await expect(page.getByTestId("card-coins-spent").innerText()).resolves.toContain("312.50");
    // research-bot's own config entry: max 500, starting 500, refresh 1 per hour
    await expect(page.getByTestId("card-coin-pool").innerText()).resolves.toMatch(/500\.00[\s\S]*of 500/);
    await expect(page.getByTestId("card-coin-refill").innerText()).resolves.toMatch(/\+1(\.00)? per hour|Full/);
    expect(await page.getByTestId("manager-row").allInnerTexts()).toHaveLength(2);
    await expect(page.getByTestId("model-row-echo").innerText()).resolves.toContain("Allowed");
    await expect(page.getByTestId("model-row-secure-llm").innerText()).resolves.toContain("Needs consent");
    // The snippet names app.base_url, which the suite sets to this server's URL.
    await expect(page.getByTestId("connect-code").innerText()).resolves.toContain(`${new URL(inject("baseURL")).origin}/v1`);
    await screenshot(page, "client-detail-admin");
    await page.context().close();
  });

  it("admin adds a manager with the search dialog and removes them", async () => {
    const page = await openClient(USERS.admin, "translation-bot");
    await expect(page.getByTestId("managers-empty").count()).resolves.toBe(1);
    await page.getByTestId("add-manager").click();
    await page.getByTestId("manager-search").fill("pat");
    await eventually(async () => expect(await page.getByTestId("manager-option").allInnerTexts()).toEqual([expect.stringContaining("plain@example.com")]));
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await screenshot(page, "add-manager-dialog");
    await page.getByTestId("confirm-add-manager").click();
    await eventually(async () => expect(await page.getByTestId("manager-row").allInnerTexts()).toEqual([expect.stringContaining("plain@example.com")]));
    // already a manager: the search no longer offers them
    await page.getByTestId("add-manager").click();
    await page.getByTestId("manager-search").fill("plain@");
    await eventually(async () => expect(await page.getByTestId("manager-search-status").innerText()).toMatch(/No users match/));
    await page.keyboard.press("Escape");
    await page.getByTestId("remove-manager").click();
    await page.getByTestId("confirm-remove-manager").click();
    await eventually(async () => expect(await page.getByTestId("managers-empty").count()).toBe(1));
    await page.context().close();
  });

  it("a manager creates a key, sees it once, copies it, revokes it and finds it under revoked keys", async () => {
    const page = await openClient(USERS.manager, "research-bot");
    expect(await page.getByTestId("add-manager").count()).toBe(0);
    expect(await page.getByTestId("deactivate-client").count()).toBe(0);
    await page.getByTestId("new-api-key").click();
    await page.getByTestId("key-name").fill("");
    await page.getByTestId("create-key").click();
    await eventually(async () => expect(await page.getByRole("dialog").getByRole("alert").count()).toBeGreaterThan(0));
    await page.getByTestId("key-name").fill("production");
    await page.getByTestId("create-key").click();
    const plaintextField = page.getByTestId("new-key-plaintext");
    await plaintextField.waitFor();
    const key = await plaintextField.inputValue();
    expect(key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    await page.getByTestId("copy-key").click();
    await eventually(async () => expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key));
    await screenshot(page, "new-key-once");
    await page.getByTestId("key-done").click();
    const row = page.getByTestId("api-key-row").filter({ hasText: "production" });
    await eventually(async () => expect(await row.innerText()).toContain(`${key.slice(0, 7)}…${key.slice(-4)}`));
    expect(await page.content()).not.toContain(key);
    await page.reload();
    expect(await page.content()).not.toContain(key);

    await hydrated(page);
    await row.getByTestId("revoke-key").click();
    await page.getByTestId("confirm-revoke").click();
    await eventually(async () => expect(await page.getByTestId("api-key-row").filter({ hasText: "production" }).count()).toBe(0));
    await page.getByTestId("show-revoked").click();
    await eventually(async () =>
      expect(await page.locator("[data-testid=api-key-row][data-revoked=true]").filter({ hasText: "production" }).count()).toBe(1),
    );
    await screenshot(page, "revoked-keys");
    await page.context().close();
  });

  it("consent: the acknowledgement renders safely and is recorded for the client", async () => {
    const page = await openClient(USERS.manager, "research-bot");
    await page.getByTestId("consent-secure-llm").click();
    const ack = page.getByTestId("ack-message");
    await expect(ack.innerText()).resolves.toContain("<script>window.__pwned = 1</script>");
    expect(await ack.locator("strong").innerText()).toBe("Read this.");
    expect(await ack.locator("script").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await screenshot(page, "consent-dialog");
    await page.getByRole("button", { name: "Accept for this client" }).click();
    await eventually(async () => expect(await page.getByTestId("model-row-secure-llm").innerText()).toContain("Consented"));
    await page.context().close();
  });

  it("admin deactivates (with confirmation) and reactivates a client", async () => {
    const page = await openClient(USERS.admin, "data-pipeline");
    await page.getByTestId("deactivate-client").click();
    await page.getByTestId("confirm-deactivate").click();
    await eventually(async () => expect(await page.getByText("Deactivated", { exact: true }).count()).toBeGreaterThan(0));
    await screenshot(page, "client-deactivated");
    await page.getByTestId("activate-client").click();
    await eventually(async () => expect(await page.getByTestId("deactivate-client").count()).toBe(1));
    await page.context().close();
  });

  it("a manager removed while the page was open: their next action shows the forbidden page and changes nothing", async () => {
    const admin = await openClient(USERS.admin, "translation-bot");
    await admin.getByTestId("add-manager").click();
    await admin.getByTestId("manager-search").fill("manager@");
    await eventually(async () => expect(await admin.getByTestId("manager-option").allInnerTexts()).toEqual([expect.stringContaining(USERS.manager)]));
    await admin.keyboard.press("ArrowDown");
    await admin.keyboard.press("Enter");
    await admin.getByTestId("confirm-add-manager").click();
    await eventually(async () => expect(await admin.getByTestId("manager-row").allInnerTexts()).toEqual([expect.stringContaining(USERS.manager)]));

    const manager = await openClient(USERS.manager, "translation-bot");
    await manager.getByTestId("new-api-key").click();
    await manager.getByTestId("key-name").fill("after-removal");

    await admin.getByTestId("remove-manager").click();
    await admin.getByTestId("confirm-remove-manager").click();
    await eventually(async () => expect(await admin.getByTestId("managers-empty").count()).toBe(1));

    // The key command refuses as forbidden. (Next answers the action with a fresh render of the page, which
    // for them is now "not found" and holds no dialog: the refusal is shown all the same.)
    await manager.getByTestId("create-key").click();
    await eventually(async () => expect(await manager.getByRole("heading", { name: "You are not allowed to do that" }).count()).toBe(1));
    expect(await manager.getByRole("dialog").count()).toBe(0);
    await screenshot(manager, "action-forbidden-removed-manager");
    await admin.reload();
    expect(await admin.getByTestId("api-key-row").filter({ hasText: "after-removal" }).count()).toBe(0);
    await manager.context().close();
    await admin.context().close();
  });

  it("an admin demoted in config.yaml while the page was open: their next admin action shows the forbidden page and changes nothing", async () => {
    const fs = await import("node:fs");
    const file = inject("configFile");
    const original = fs.readFileSync(file, "utf8");
    // admin@example.com also manages research-bot, so the page itself stays theirs to see.
    const page = await openClient(USERS.admin, "research-bot");
    const probe = await page.context().newPage();
    try {
      expect(original).toContain("admins: [admin@example.com]");
      fs.writeFileSync(file, original.replace("admins: [admin@example.com]", "admins: []"));
      await eventually(async () => {
        await probe.goto("/clients");
        expect(await probe.getByTestId("new-client").count()).toBe(0);
      }, 8_000);
      await page.getByTestId("deactivate-client").click();
      await page.getByTestId("confirm-deactivate").click();
      await eventually(async () => expect(await page.getByRole("heading", { name: "You are not allowed to do that" }).count()).toBe(1));
      expect(await page.getByTestId("forbidden").innerText()).toContain("Error 403");
      await screenshot(page, "action-forbidden");
      await probe.goto(`/clients/${inject("clientIds")["research-bot"]}`);
      expect(await probe.getByText("Deactivated", { exact: true }).count()).toBe(0);
    } finally {
      fs.writeFileSync(file, original);
    }
    await eventually(async () => {
      await probe.goto("/clients");
      expect(await probe.getByTestId("new-client").count()).toBe(1);
    }, 8_000);
    await page.context().close();
  });

  it("pages the API keys table: the newest keys first, Older and Newer", async () => {
    const page = await openClient(USERS.admin, "data-pipeline");
    const section = page.getByTestId("api-keys-section");
    const names = () => section.getByTestId("api-key-row").locator("td:first-child").allInnerTexts();
    const expected = (from: number, to: number) =>
      Array.from({ length: from - to + 1 }, (_, i) => `batch-${String(from - i).padStart(2, "0")}`);
    await eventually(async () => expect(await names()).toEqual(expected(30, 30 - KEY_LIST_LIMIT + 1)));
    expect(await section.getByRole("navigation", { name: "Key pages" }).innerText()).toContain(`Keys 1–${KEY_LIST_LIMIT}, newest first`);
    // Dates in the viewer's locale, the exact instant on hover (both set in the browser, LocalDateFormatter).
    await eventually(async () => expect(await section.locator("time[data-local]").first().getAttribute("title")).toMatch(/ GMT$/));
    await section.getByRole("link", { name: "Older" }).click();
    await eventually(async () => expect(await names()).toEqual(expected(30 - KEY_LIST_LIMIT, 1)));
    expect(page.url()).toContain("keys_page=2");
    expect(await section.getByRole("link", { name: "Older" }).count()).toBe(0);
    await section.getByRole("link", { name: "Newer" }).click();
    await eventually(async () => expect(await names()).toEqual(expected(30, 30 - KEY_LIST_LIMIT + 1)));
    await page.context().close();
  });

  it("a client name with markup renders as text", async () => {
    const page = await openClient(USERS.admin, "<script>alert(1)</script>");
    expect(await page.getByTestId("client-name").innerText()).toBe("<script>alert(1)</script>");
    expect(await page.title()).toContain("<script>alert(1)</script>");
    await page.context().close();
  });
});
