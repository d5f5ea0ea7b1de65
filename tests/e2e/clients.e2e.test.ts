import { afterAll, beforeAll, describe, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { columnTexts, eventually, expect, hydrated, launch, newContext, nudge, screenshot, signIn } from "./browser";
import { USERS } from "./fixtures";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

async function pageFor(email?: string): Promise<Page> {
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  if (email) await signIn(page, email);
  return page;
}

const names = (page: Page) => columnTexts(page, 1);

describe("Clients page", () => {
  it("a signed-out deep link goes through sign-in and comes back", async () => {
    const page = await pageFor();
    await page.goto("/clients?sort=requests&order=asc&q=bot");
    await page.waitForURL(/\/signin\?callbackUrl=/);
    await screenshot(page, "signin");
    await signIn(page, USERS.admin);
    const url = new URL(page.url());
    expect(url.pathname).toBe("/clients");
    await page.waitForSelector("[data-testid=client-row]");
    expect(url.searchParams.get("sort")).toBe("requests");
    expect(url.searchParams.get("q")).toBe("bot");
    expect(await names(page)).toEqual(["translation-bot", "research-bot"]);
    await page.context().close();
  });

  it("admin sees the cards, the table, sorting, search and the escaped name", async () => {
    const page = await pageFor(USERS.admin);
    await page.goto("/clients");
    await hydrated(page);
    await expect(page.getByTestId("card-total-clients").innerText()).resolves.toBe("5");
    await expect(page.getByTestId("card-total-requests").innerText()).resolves.toBe("46,508");
    await expect(page.getByTestId("card-total-tokens-used").innerText()).resolves.toBe("10,871,020");
    await expect(page.getByTestId("card-coins-spent").innerText()).resolves.toBe("1,592.07");
    expect(await names(page)).toEqual([
      "<script>alert(1)</script>", "ci-runner", "data-pipeline", "research-bot", "translation-bot",
    ]);
    // the user-typed name is text, never markup
    expect(await page.evaluate(() => (window as unknown as { alerted?: boolean }).alerted)).toBeUndefined();
    expect(await page.locator("script:text('alert(1)')").count()).toBe(0);
    // deactivated client keeps its row with the red X
    const ci = page.locator("[data-testid=client-row]", { hasText: "ci-runner" });
    await expect(ci.locator("[role=img][aria-label=Deactivated]").count()).resolves.toBe(1);
    await expect(page.locator("[role=img][aria-label=Active]").count()).resolves.toBe(4);
    await expect(page.getByTestId("showing").innerText()).resolves.toBe("Showing 1–5 of 5");
    await screenshot(page, "clients-admin");

    const cases: [string, string, string[]][] = [
      ["requests", "descending", ["data-pipeline", "research-bot", "translation-bot", "ci-runner", "<script>alert(1)</script>"]],
      ["tokens", "descending", ["data-pipeline", "research-bot", "translation-bot", "ci-runner", "<script>alert(1)</script>"]],
      ["coins", "descending", ["data-pipeline", "research-bot", "translation-bot", "ci-runner", "<script>alert(1)</script>"]],
      ["managers", "descending", ["research-bot", "ci-runner", "<script>alert(1)</script>", "data-pipeline", "translation-bot"]],
      ["active", "descending", ["<script>alert(1)</script>", "data-pipeline", "research-bot", "translation-bot", "ci-runner"]],
      ["created", "descending", ["<script>alert(1)</script>", "translation-bot", "ci-runner", "data-pipeline", "research-bot"]],
      ["name", "ascending", ["<script>alert(1)</script>", "ci-runner", "data-pipeline", "research-bot", "translation-bot"]],
    ];
    for (const [column, first, order] of cases) {
      if (column === "name") {
        await page.getByTestId("sort-requests").click();
        await page.waitForURL(/sort=requests/);
        await hydrated(page);
      }
      const header = page.locator("th", { has: page.getByTestId(`sort-${column}`) });
      await page.getByTestId(`sort-${column}`).click();
      await eventually(async () => {
        await nudge(page);
        expect(await header.getAttribute("aria-sort"), column).toBe(first);
      });
      await hydrated(page);
      expect(await names(page)).toEqual(order);
      // clicking again reverses
      await page.getByTestId(`sort-${column}`).click();
      await eventually(async () => {
        await nudge(page);
        expect(await header.getAttribute("aria-sort")).not.toBe(first);
      });
      await hydrated(page);
      if (column === "name" || column === "requests") {
        await eventually(async () => expect(await names(page)).toEqual([...order].reverse()));
      }
    }
    expect(new URL(page.url()).search).toBe("?order=desc"); // sort=name is the default and left out
    await page.reload();
    expect(await names(page)).toEqual([
      "translation-bot", "research-bot", "data-pipeline", "ci-runner", "<script>alert(1)</script>",
    ]);

    await page.goto("/clients");
    await hydrated(page);
    await page.getByLabel("Search clients by name").fill("BOT");
    await eventually(async () => expect(await names(page)).toEqual(["research-bot", "translation-bot"]));
    expect(new URL(page.url()).searchParams.get("q")).toBe("BOT");
    await expect(page.getByTestId("card-total-clients").innerText()).resolves.toBe("5");
    await screenshot(page, "clients-search");
    await page.getByLabel("Search clients by name").fill("no-such-client");
    await eventually(async () => expect(await page.getByTestId("empty-search").isVisible()).toBe(true));
    await screenshot(page, "clients-search-empty");
    await page.context().close();
  });

  it("invalid query parameters fall back to defaults", async () => {
    const page = await pageFor(USERS.admin);
    const res = await page.goto("/clients?sort=evil&order=sideways&page=-4");
    expect(res?.status()).toBe(200);
    expect(await names(page)).toHaveLength(5);
    await page.context().close();
  });

  it("admin creates a client: invalid names are explained inline, a valid one lands on its page", async () => {
    const page = await pageFor(USERS.admin);
    await page.goto("/clients");
    await hydrated(page);
    await page.getByTestId("new-client").click();
    const dialog = page.getByRole("dialog");
    const field = dialog.getByLabel("Name");
    await field.fill("has space");
    await dialog.getByRole("button", { name: "Create" }).click();
    await eventually(async () => expect(await dialog.getByRole("alert").innerText()).toContain("no spaces"));
    expect(await field.inputValue()).toBe("has space");
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "new-client-invalid");

    await field.fill("Research-Bot");
    await dialog.getByRole("button", { name: "Create" }).click();
    await eventually(async () => expect(await dialog.getByRole("alert").innerText()).toContain("already exists"));
    expect(await field.inputValue()).toBe("Research-Bot");
    await screenshot(page, "new-client-duplicate");

    await field.fill("my-service-app");
    await dialog.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/clients\/[0-9a-f-]{36}/);
    expect(await page.getByTestId("client-name").innerText()).toBe("my-service-app");
    expect(await page.getByText("Active", { exact: true }).count()).toBeGreaterThan(0);
    await screenshot(page, "client-created");
    const fs = await import("node:fs");
    expect(fs.readFileSync(inject("configFile"), "utf8")).toMatch(/^ {2}my-service-app: \{\}$/m);
    await page.getByRole("link", { name: "Clients" }).first().click();
    await eventually(async () => expect(await names(page)).toContain("my-service-app"));
    await page.context().close();
  });

  it("a manager sees only the clients they manage, and no create button", async () => {
    const page = await pageFor(USERS.manager);
    await page.goto("/clients");
    expect(await names(page)).toEqual(["ci-runner", "research-bot"]);
    await expect(page.getByTestId("card-total-clients").innerText()).resolves.toBe("2");
    expect(await page.getByTestId("new-client").count()).toBe(0);
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).count()).resolves.toBe(1);
    await screenshot(page, "clients-manager");
    const ids = inject("clientIds");
    const other = await page.goto(`/clients/${ids["data-pipeline"]}`);
    expect(other?.status()).toBe(404);
    const own = await page.goto(`/clients/${ids["research-bot"]}`);
    expect(own?.status()).toBe(200);
    await page.context().close();
  });

  it("an ordinary user gets the 403 page and no Clients link", async () => {
    const page = await pageFor(USERS.plain);
    const res = await page.goto("/clients");
    expect(res?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "You don't manage any clients" }).count()).resolves.toBe(1);
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).count()).resolves.toBe(0);
    await screenshot(page, "clients-forbidden");
    const ids = inject("clientIds");
    expect((await page.goto(`/clients/${ids["research-bot"]}`))?.status()).toBe(404);
    await page.context().close();
  });
});

describe("live configuration", () => {
  it("a valid edit of config.yaml applies without restart; an invalid one is ignored", async () => {
    const fs = await import("node:fs");
    const file = inject("configFile");
    const original = fs.readFileSync(file, "utf8");
    const page = await pageFor(USERS.plain);
    try {
      expect((await page.goto("/clients"))?.status()).toBe(403);
      fs.writeFileSync(file, original.replace("admins: [admin@example.com]", "admins: [admin@example.com, PLAIN@example.com]"));
      await eventually(async () => expect((await page.goto("/clients"))?.status()).toBe(200), 8_000);
      expect(await names(page)).toHaveLength(await page.locator("[data-testid=client-row]").count());
      await expect(page.getByTestId("new-client").count()).resolves.toBe(1);
      // a broken edit keeps the last good config (plain stays admin)
      fs.writeFileSync(file, original.replace("admins: [admin@example.com]", "admins: [admin@example.com, PLAIN@example.com]\nmodels: 12"));
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await page.goto("/clients"))?.status()).toBe(200);
    } finally {
      fs.writeFileSync(file, original);
    }
    await eventually(async () => expect((await page.goto("/clients"))?.status()).toBe(403), 8_000);
    await page.context().close();
  });
});
