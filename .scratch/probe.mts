import { chromium } from "playwright-core";
import fs from "node:fs";
const provided = JSON.parse(fs.readFileSync("/tmp/keys-srv.out", "utf8").split("\n").find((l) => l.startsWith('{"baseURL"'))!);
const base = provided.baseURL as string;
const ids = provided.clientIds as Record<string, string>;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 }, locale: "en-US" });
const page = await ctx.newPage();
await page.addInitScript(() => {
  for (const m of ["pushState", "replaceState"] as const) {
    const orig = history[m].bind(history);
    (history as any)[m] = (...a: any[]) => { console.log(`history.${m}`, String(a[2]), new Error().stack?.split("\n").slice(2, 5).join(" | ")); return orig(...a); };
  }
  const origAbort = AbortController.prototype.abort;
  AbortController.prototype.abort = function (reason?: any) { console.log("abort()", String(reason), new Error().stack?.split("\n").slice(2, 7).join(" | ")); return origAbort.call(this, reason); };
});
page.on("framenavigated", (f) => console.log("framenavigated", f.url()));
page.on("console", (m) => console.log("console:", m.type(), m.text()));
page.on("pageerror", (e) => console.log("pageerror:", e.message));
let lastPost: { url: string; headers: Record<string, string>; body: string | null } | null = null;
page.on("request", async (r) => { if (r.method() === "POST") { console.log("POST start", r.url(), Date.now() % 100000); lastPost = { url: r.url(), headers: await r.allHeaders(), body: r.postData() }; } });
page.on("requestfinished", (r) => { if (r.method() === "POST") console.log("POST done", r.url(), Date.now() % 100000); });
page.on("requestfailed", (r) => console.log("failed", r.method(), r.url(), r.failure()?.errorText, Date.now() % 100000));
page.on("response", (r) => { if (r.request().method() === "POST") console.log("POST response", r.status(), JSON.stringify(r.headers()).slice(0, 300), Date.now() % 100000); });
page.on("request", (r) => { if (r.method() === "GET" && r.url().includes("_rsc")) console.log("RSC GET", r.url(), Date.now() % 100000); });
const email = process.argv[2] ?? "manager@example.com";
await page.goto(`/signin?callbackUrl=${encodeURIComponent(`/clients/${ids["research-bot"]}`)}`);
await page.waitForSelector("html[data-hydrated]", { state: "attached" });
await page.getByLabel("E-mail").fill(email);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL((u) => !u.pathname.startsWith("/signin"));
await page.waitForSelector("html[data-hydrated]", { state: "attached" });
await page.waitForLoadState("networkidle");
const step = process.argv[3] ?? "newkey";
if (step === "newkey") {
  await page.getByTestId("new-api-key").click();
  await page.getByTestId("key-name").fill("dated-key");
  const group = page.getByTestId("key-expiry");
  await group.getByText("On a date", { exact: true }).click();
  await page.getByTestId("key-expires-on").fill("2020-01-01");
  await page.getByTestId("create-key").click();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: "/tmp/probe1.png" });
  console.log(await page.getByRole("dialog").innerText());
  await group.getByRole("radio", { name: /On a date/ }).focus();
  await page.keyboard.press("ArrowLeft");
  console.log("365 checked:", await group.getByRole("radio", { name: "365 days" }).isChecked());
  await page.getByTestId("create-key").click();
  await page.waitForTimeout(2000);
  await page.screenshot({ path: "/tmp/probe2.png" });
  console.log(await page.getByRole("dialog").innerText());
}
if (step === "rotate") {
  await page.getByTestId("new-api-key").click();
  await page.getByTestId("key-name").fill("rot-" + Date.now());
  await page.getByTestId("key-expiry").getByText("90 days", { exact: true }).click();
  await page.getByTestId("create-key").click();
  await page.waitForTimeout(3000); await page.screenshot({ path: "/tmp/probe4.png" }); console.log("dialog:", await page.getByRole("dialog").innerText().catch(() => "none"));
  await page.getByTestId("key-done").click();
  await page.waitForTimeout(1000);
  const row = page.getByTestId("api-key-row").first();
  console.log("row:", await row.innerText());
  await row.getByTestId("rotate-key").click();
  await page.waitForTimeout(500);
  await page.getByTestId("rotate-grace").getByText("1 hour", { exact: true }).click();
  await page.getByTestId("confirm-rotate").click();
  for (let i = 0; i < 10; i++) {
    await page.waitForTimeout(500);
    const n = await page.getByTestId("new-key-plaintext").count();
    console.log(i, "plaintext fields:", n, "dialogs:", await page.getByRole("dialog").count());
    if (n) break;
  }
  await page.screenshot({ path: "/tmp/probe3.png" });
  // replay the rotation's request shape with a new key: dump the raw action response
  fs.writeFileSync("/tmp/lastpost.json", JSON.stringify(lastPost));
}
await browser.close();
