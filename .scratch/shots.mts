import { chromium, type Page } from "playwright-core";
import fs from "node:fs";
const provided = JSON.parse(fs.readFileSync("/tmp/keys-srv.out", "utf8").split("\n").find((l) => l.startsWith('{"baseURL"'))!);
const base = provided.baseURL as string;
const ids = provided.clientIds as Record<string, string>;
const apiKey = provided.apiKey as string;
fs.mkdirSync("/tmp/shots", { recursive: true });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const nudge = (page: Page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
async function open(email: string, path: string, width = 1280) {
  const ctx = await browser.newContext({ baseURL: base, viewport: { width, height: 900 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.log("pageerror:", e.message));
  await page.goto(`/signin?callbackUrl=${encodeURIComponent(path)}`);
  await page.waitForSelector("html[data-hydrated]", { state: "attached" });
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "Sign in" }).click();
  for (let i = 0; i < 100 && new URL(page.url()).pathname.startsWith("/signin"); i++) { await nudge(page); await page.waitForTimeout(100); }
  await page.waitForSelector("html[data-hydrated]", { state: "attached" });
  await page.waitForLoadState("networkidle");
  return page;
}
async function until(page: Page, fn: () => Promise<boolean>) {
  for (let i = 0; i < 100; i++) { await nudge(page); if (await fn()) return; await page.waitForTimeout(100); }
  throw new Error("timeout");
}
const which = process.argv[2] ?? "all";
const rb = `/clients/${ids["research-bot"]}`;
if (which === "all" || which === "keys") {
  const page = await open("manager@example.com", rb);
  // create and rotate a key, expire one via API? create a dated key
  for (const [name, choice] of [["production", "90 days"], ["staging", "30 days"]] as const) {
    await page.getByTestId("new-api-key").click();
    await page.getByTestId("key-name").fill(name);
    await page.getByTestId("key-expiry").getByText(choice, { exact: true }).click();
    await page.screenshot({ path: `/tmp/shots/new-key-dialog-${name}.png` });
    await page.getByTestId("create-key").click();
    await until(page, async () => (await page.getByTestId("new-key-plaintext").count()) > 0);
    await page.screenshot({ path: `/tmp/shots/new-key-reveal-${name}.png` });
    await page.getByTestId("key-done").click();
    await page.waitForTimeout(500);
  }
  const row = page.getByTestId("api-key-row").filter({ hasText: "production" });
  await until(page, async () => (await row.count()) === 1);
  await row.getByTestId("rotate-key").click();
  await page.waitForTimeout(400);
  await page.screenshot({ path: "/tmp/shots/rotate-dialog.png" });
  await page.getByTestId("rotate-grace").getByText("Immediately", { exact: true }).click();
  await page.screenshot({ path: "/tmp/shots/rotate-dialog-now.png" });
  await page.getByTestId("rotate-grace").getByText("7 days", { exact: true }).click();
  await page.getByTestId("confirm-rotate").click();
  await until(page, async () => (await page.getByTestId("new-key-plaintext").count()) > 0);
  await page.screenshot({ path: "/tmp/shots/rotate-reveal.png" });
  await page.getByTestId("key-done").click();
  await until(page, async () => (await row.getByTestId("grace-secret").count()) > 0);
  await page.waitForTimeout(300);
  await page.getByTestId("api-keys-section").screenshot({ path: "/tmp/shots/keys-section.png" });
  await row.getByTestId("end-grace").click();
  await page.waitForTimeout(400);
  await page.screenshot({ path: "/tmp/shots/end-grace-dialog.png" });
  await page.keyboard.press("Escape");
  await page.getByTestId("show-revoked").check();
  await page.waitForTimeout(1000);
  await page.getByTestId("api-keys-section").screenshot({ path: "/tmp/shots/keys-section-inactive.png" });
  await page.context().close();
}
if (which === "all" || which === "sections") {
  const page = await open("admin@example.com", rb);
  await page.getByTestId("recent-requests-section").screenshot({ path: "/tmp/shots/recent-requests.png" });
  await page.getByTestId("activity-section").screenshot({ path: "/tmp/shots/activity.png" });
  await page.getByTestId("export-csv").click();
  await page.waitForTimeout(400);
  await page.screenshot({ path: "/tmp/shots/export-dialog.png" });
  await page.keyboard.press("Escape");
  const empty = await open("admin@example.com", `/clients/${ids["translation-bot"]}`);
  await empty.getByTestId("recent-requests-section").screenshot({ path: "/tmp/shots/recent-requests-empty.png" });
  await empty.getByTestId("activity-section").screenshot({ path: "/tmp/shots/activity-empty.png" });
  await empty.getByTestId("api-keys-section").screenshot({ path: "/tmp/shots/keys-empty.png" });
  const narrow = await open("admin@example.com", rb, 420);
  await narrow.getByTestId("recent-requests-section").screenshot({ path: "/tmp/shots/recent-requests-narrow.png" });
  await narrow.getByTestId("new-api-key").click();
  await narrow.waitForTimeout(400);
  await narrow.screenshot({ path: "/tmp/shots/new-key-narrow.png" });
}
if (which === "expired") {
  const page = await open("manager@example.com", `${rb}?revoked=1`);
  await page.getByTestId("api-keys-section").screenshot({ path: "/tmp/shots/keys-expired.png" });
  await page.getByTestId("recent-requests-section").screenshot({ path: "/tmp/shots/recent-requests-2.png" });
  const plain = await open("manager@example.com", rb);
  await plain.getByTestId("api-keys-section").screenshot({ path: "/tmp/shots/keys-default.png" });
}
await browser.close();
