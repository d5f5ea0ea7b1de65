/**
 * Issue 11 in the browser: key expiry in the New API Key dialog, rotation with a grace period (both
 * secrets work, the old one fails once the grace ends), the Activity and Recent requests sections, and
 * the CSV downloads with their authorization.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, inject, it } from "vitest";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { eventually, expect, hydrated, launch, newContext, nudge, screenshot } from "./browser";
import { USERS } from "./fixtures";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

/**
 * Retries an assertion, asking for a frame each time: headless Chromium renders on demand, and the
 * transition of a server action's result or a client-side navigation can wait for a frame (browser.ts).
 */
async function until(page: Page, fn: () => Promise<void>, timeoutMs = 15_000) {
  await eventually(async () => {
    await nudge(page);
    await fn();
  }, timeoutMs);
}

async function shown(page: Page, locator: Locator) {
  await until(page, async () => expect(await locator.count()).toBeGreaterThan(0));
}

/** The development sign-in, waiting for the redirect with frames requested (see `until`). */
async function signIn(page: Page, email: string, returnTo: string) {
  await page.goto(`/signin?callbackUrl=${encodeURIComponent(returnTo)}`);
  await hydrated(page);
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Sign in" }).click();
  await until(page, async () => expect(new URL(page.url()).pathname.startsWith("/signin")).toBe(false), 30_000);
  await hydrated(page);
}

async function openClient(email: string, name: string, query = ""): Promise<Page> {
  const ctx = await newContext(browser);
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"]);
  const page = await ctx.newPage();
  await signIn(page, email, `/clients/${inject("clientIds")[name]}${query}`);
  await hydrated(page);
  return page;
}

/** GET /v1/models with a key: the status and the error code, if any. */
async function call(key: string): Promise<{ status: number; code: string | null; message: string | null }> {
  const res = await fetch(`${inject("baseURL")}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code ?? null, message: body.error?.message ?? null };
}

async function createKey(page: Page, name: string, expiry: string): Promise<string> {
  await page.getByTestId("new-api-key").click();
  await page.getByTestId("key-name").fill(name);
  await page.getByTestId("key-expiry").getByText(expiry, { exact: true }).click();
  await page.getByTestId("create-key").click();
  const field = page.getByTestId("new-key-plaintext");
  await shown(page, field);
  const key = await field.inputValue();
  await page.getByTestId("key-done").click();
  return key;
}

describe("API key expiry and rotation", () => {
  it("the New API Key dialog offers expiry choices and keeps what was typed when a date is wrong", async () => {
    const page = await openClient(USERS.manager, "research-bot");
    await page.getByTestId("new-api-key").click();
    const group = page.getByTestId("key-expiry");
    expect(await group.getByRole("radio").count()).toBe(5);
    expect(await group.getByRole("radio", { name: "Never" }).isChecked()).toBe(true);
    await page.getByTestId("key-name").fill("dated-key");
    await group.getByText("On a date", { exact: true }).click();
    await page.getByTestId("key-expires-on").fill("2020-01-01");
    await page.getByTestId("create-key").click();
    const error = page.locator("#key-expires-on-error");
    await until(page, async () => expect(await error.innerText()).toMatch(/or a later date/));
    expect(await page.getByTestId("key-name").inputValue()).toBe("dated-key");
    expect(await page.getByTestId("key-expires-on").inputValue()).toBe("2020-01-01");
    expect(await page.getByTestId("key-expires-on").getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "new-key-expiry-error");
    // keyboard: arrows move within the group
    await group.getByRole("radio", { name: /On a date/ }).focus();
    await page.keyboard.press("ArrowLeft");
    expect(await group.getByRole("radio", { name: "365 days" }).isChecked()).toBe(true);
    await page.getByTestId("create-key").click();
    await shown(page, page.getByTestId("new-key-plaintext"));
    expect(await page.getByTestId("new-key-expiry").innerText()).toMatch(/expires on/);
    await page.getByTestId("key-done").click();
    const row = page.getByTestId("api-key-row").filter({ hasText: "dated-key" });
    await until(page, async () => expect(await row.getByTestId("key-expires").innerText()).toMatch(/in 365 days/));
    await screenshot(page, "keys-table-expires");
    await page.context().close();
  });

  it("a manager rotates a key: both secrets work during the grace, the old one fails after it ends", async () => {
    const page = await openClient(USERS.manager, "research-bot");
    const old = await createKey(page, "rotating", "90 days");
    expect(await call(old)).toMatchObject({ status: 200 });

    const row = page.getByTestId("api-key-row").filter({ hasText: "rotating" });
    await until(page, async () => expect(await row.count()).toBe(1));
    await row.getByTestId("rotate-key").click();
    const grace = page.getByTestId("rotate-grace");
    expect(await grace.getByRole("radio", { name: "24 hours" }).isChecked()).toBe(true);
    await grace.getByText("1 hour", { exact: true }).click();
    await screenshot(page, "rotate-key-dialog");
    await page.getByTestId("confirm-rotate").click();
    const field = page.getByTestId("new-key-plaintext");
    await shown(page, field);
    const fresh = await field.inputValue();
    expect(fresh).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(old);
    expect(await page.getByTestId("rotated-old-secret").innerText()).toMatch(/keeps working until/);
    await screenshot(page, "rotate-key-new-secret");
    await page.getByTestId("key-done").click();

    // one row, the new hint, and the old one "valid until …"
    await until(page, async () => expect(await row.innerText()).toContain(`${fresh.slice(0, 7)}…${fresh.slice(-4)}`));
    expect(await page.getByTestId("api-key-row").filter({ hasText: "rotating" }).count()).toBe(1);
    const graceLine = row.getByTestId("grace-secret");
    expect(await graceLine.innerText()).toContain(`old ${old.slice(0, 7)}…${old.slice(-4)} valid until`);
    expect(await page.content()).not.toContain(fresh);
    await screenshot(page, "keys-table-grace");

    // during the grace: both secrets are the same key
    expect(await call(old)).toMatchObject({ status: 200 });
    expect(await call(fresh)).toMatchObject({ status: 200 });

    // end the grace: the old secret is refused within a second, the new one keeps working
    await row.getByTestId("end-grace").click();
    await screenshot(page, "end-grace-dialog");
    await page.getByTestId("confirm-end-grace").click();
    await until(page, async () => expect(await row.getByTestId("grace-secret").count()).toBe(0));
    await until(page, async () => {
      const refused = await call(old);
      expect(refused).toMatchObject({ status: 401, code: "expired_api_key" });
      expect(refused.message).toMatch(/rotated and its old secret stopped working on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    }, 1500);
    expect(await call(fresh)).toMatchObject({ status: 200 });
    await page.context().close();
  });

  it("rotating Immediately refuses the old secret at once", async () => {
    const page = await openClient(USERS.admin, "research-bot");
    const old = await createKey(page, "rotate-now", "30 days");
    const row = page.getByTestId("api-key-row").filter({ hasText: "rotate-now" });
    await until(page, async () => expect(await row.count()).toBe(1));
    await row.getByTestId("rotate-key").click();
    await page.getByTestId("rotate-grace").getByText("Immediately", { exact: true }).click();
    await page.getByTestId("confirm-rotate").click();
    await shown(page, page.getByTestId("new-key-plaintext"));
    const fresh = await page.getByTestId("new-key-plaintext").inputValue();
    expect(await page.getByTestId("rotated-old-secret").innerText()).toMatch(/no longer works/);
    await page.getByTestId("key-done").click();
    await until(page, async () => expect(await call(old)).toMatchObject({ status: 401, code: "expired_api_key" }), 1500);
    expect(await call(fresh)).toMatchObject({ status: 200 });
    await page.context().close();
  });
});

describe("Activity", () => {
  it("lists the console's changes newest first, filtered by kind", async () => {
    const page = await openClient(USERS.admin, "research-bot", "#activity-title");
    const section = page.getByTestId("activity-section");
    await until(page, async () => expect(await section.getByTestId("activity-row").count()).toBeGreaterThan(3));
    const actions = await section.getByTestId("activity-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    expect(actions).toContain("key.rotated");
    expect(actions).toContain("key.grace_ended");
    expect(actions).toContain("manager.added");
    const rotated = section.getByTestId("activity-row").filter({ hasText: "Rotated the key" }).first();
    expect(await rotated.innerText()).toMatch(/127\.0\.0\.1/);
    await section.scrollIntoViewIfNeeded();
    await screenshot(page, "activity-section");
    await page.getByTestId("activity-kind").selectOption("managers");
    await until(page, async () => {
      const shown = await section.getByTestId("activity-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
      expect(shown.length).toBeGreaterThan(0);
      expect(shown.every((a) => a === "manager.added" || a === "manager.removed")).toBe(true);
    });
    expect(page.url()).toContain("activity_kind=managers");
    await page.getByTestId("activity-kind").selectOption("consent");
    await until(page, async () => expect(await section.getByTestId("activity-empty").count() + (await section.getByTestId("activity-row").count())).toBeGreaterThan(0));
    await page.context().close();
  });
});

describe("Recent requests", () => {
  it("shows the latest 50, pages older, and filters to errors and to one key", async () => {
    const page = await openClient(USERS.manager, "research-bot", "#recent-requests-title");
    const section = page.getByTestId("recent-requests-section");
    await until(page, async () => expect(await section.getByTestId("request-row").count()).toBe(50));
    await section.scrollIntoViewIfNeeded();
    await screenshot(page, "recent-requests");
    const first = await section.getByTestId("request-row").first().innerText();
    expect(first).toMatch(/echo/);

    await section.getByTestId("requests-older").click();
    await until(page, async () => expect(page.url()).toContain("requests_before="));
    await until(page, async () => expect(await section.getByTestId("requests-newer").count()).toBe(1));
    await section.getByTestId("requests-newer").click();
    await until(page, async () => expect(await section.getByTestId("request-row").first().innerText()).toBe(first));

    await section.getByTestId("requests-errors").check();
    await until(page, async () => {
      const statuses = await section.getByTestId("request-row").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-status"))));
      expect(statuses.length).toBeGreaterThanOrEqual(6);
      expect(statuses.every((s) => s >= 400)).toBe(true);
    });
    expect(page.url()).toContain("requests_errors=1");
    await screenshot(page, "recent-requests-errors");

    await section.getByTestId("requests-errors").uncheck();
    await section.getByTestId("requests-key").selectOption({ label: "dated-key" });
    await until(page, async () => expect(await section.getByTestId("requests-empty").innerText()).toMatch(/No requests with this key yet/));
    await page.context().close();
  });
});

describe("CSV export", () => {
  let ctx: BrowserContext;
  afterAll(async () => ctx?.close());

  it("downloads daily usage and the request log; a wrong range is shown next to the field", async () => {
    const page = await openClient(USERS.manager, "research-bot");
    ctx = page.context();
    await page.getByTestId("export-csv").click();
    const today = new Date().toISOString().slice(0, 10);
    await page.getByTestId("export-from").fill(today);
    await page.getByTestId("export-to").fill("2020-01-01");
    await page.getByTestId("export-usage").click();
    await until(page, async () => expect(await page.locator("#export-to-error").innerText()).toMatch(/must not be before/));
    expect(await page.getByTestId("export-to").inputValue()).toBe("2020-01-01");
    await screenshot(page, "export-dialog-error");
    await page.getByTestId("export-from").fill(new Date(Date.now() - 86_400_000).toISOString().slice(0, 10));
    await page.getByTestId("export-to").fill(today);

    const [usage] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-usage").click()]);
    expect(usage.suggestedFilename()).toMatch(/^lumen-research-bot-usage-\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.csv$/);
    const usageText = fs.readFileSync((await usage.path())!, "utf8");
    expect(usageText.split("\r\n")[0]).toBe("date,model,key,key_id,requests,input_tokens,output_tokens,coins");
    expect(usageText).toMatch(/\r\n\d{4}-\d{2}-\d{2},echo,e2e,/);

    const [log] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-requests").click()]);
    expect(log.suggestedFilename()).toMatch(/^lumen-research-bot-requests-/);
    const lines = fs.readFileSync((await log.path())!, "utf8").split("\r\n");
    expect(lines[0]).toBe("time,request_id,key,key_id,model,status,error_code,input_tokens,output_tokens,coins,duration_ms,ttft_ms,streamed,usage_estimated");
    expect(lines.filter((l) => l.includes(",seed-")).length).toBe(60);
    // still on the page
    expect(new URL(page.url()).pathname).toBe(`/clients/${inject("clientIds")["research-bot"]}`);
  });

  it("the routes are authorized like the page", async () => {
    const ids = inject("clientIds");
    const range = "?from=2026-01-01&to=2026-01-31";
    const path = (name: string, kind = "usage") => `/clients/${ids[name]}/export/${kind}.csv${range}`;
    // signed out: to sign-in and back
    const anon = await newContext(browser);
    const res = await anon.request.get(path("research-bot"), { maxRedirects: 0 });
    expect(res.status()).toBeGreaterThanOrEqual(300);
    expect(res.status()).toBeLessThan(400);
    expect(res.headers().location).toContain(`/signin?callbackUrl=${encodeURIComponent(`/clients/${ids["research-bot"]}/export/usage.csv`)}`);
    await anon.close();

    for (const [email, name, kind, status] of [
      [USERS.manager, "research-bot", "usage", 200],
      [USERS.manager, "research-bot", "requests", 200],
      [USERS.manager, "data-pipeline", "usage", 404],
      [USERS.manager, "data-pipeline", "requests", 404],
      [USERS.plain, "research-bot", "requests", 404],
      [USERS.admin, "data-pipeline", "requests", 200],
    ] as const) {
      const context = await newContext(browser);
      const page = await context.newPage();
      await signIn(page, email, `/clients/${ids[name]}`);
      const got = await context.request.get(path(name, kind), { maxRedirects: 0 });
      expect(got.status(), `${email} ${name} ${kind}`).toBe(status);
      if (status === 200) expect(got.headers()["content-type"]).toBe("text/csv; charset=utf-8; header=present");
      await context.close();
    }
    const admin = await newContext(browser);
    const page = await admin.newPage();
    await signIn(page, USERS.admin, `/clients/${ids["research-bot"]}`);
    const bad = await admin.request.get(`/clients/${ids["research-bot"]}/export/usage.csv?from=2026-02-10&to=2026-02-01`);
    expect(bad.status()).toBe(400);
    expect(await bad.text()).toBe("The last day must not be before the first day.");
    const missing = await admin.request.get(`/clients/not-a-uuid/export/requests.csv${range}`);
    expect(missing.status()).toBe(404);
    await admin.close();
  });
});
