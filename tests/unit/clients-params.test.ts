import { describe, expect, it } from "vitest";
import { clientListHref, pagingTexts, parseClientListParams } from "@/lib/clients/list-params";
import { validateClientName } from "@/lib/clients/names";
import { likeContains } from "@/lib/clients/queries";
import { formatCoins, formatCount } from "@/lib/format";
import { afterSignInPath } from "@/lib/auth/redirects";

const safeCallbackPath = (raw: unknown) => afterSignInPath(raw, "http://localhost:3000");

describe("list parameters", () => {
  it("defaults and per-column starting order", () => {
    expect(parseClientListParams({})).toEqual({ sort: "name", order: "asc", q: "", page: 1 });
    expect(parseClientListParams({ sort: "coins" })).toMatchObject({ sort: "coins", order: "desc" });
    expect(parseClientListParams({ sort: "created", order: "asc" })).toMatchObject({ order: "asc" });
  });
  it("invalid values fall back instead of failing", () => {
    expect(parseClientListParams({ sort: "drop table", order: "sideways", page: "-3", q: ["a", "b"] })).toEqual({
      sort: "name",
      order: "asc",
      q: "a",
      page: 1,
    });
    expect(parseClientListParams({ page: "2.5" }).page).toBe(1);
    expect(parseClientListParams({ page: "1e99" }).page).toBe(1);
    expect(parseClientListParams({ q: "x".repeat(500) }).q).toHaveLength(100);
    expect(parseClientListParams({ sort: "requests", order: "nope" }).order).toBe("desc");
  });
  it("builds short deep links", () => {
    expect(clientListHref({ sort: "name", order: "asc" })).toBe("/clients");
    expect(clientListHref({ sort: "requests", order: "desc", q: "bot", page: 2 })).toBe("/clients?sort=requests&q=bot&page=2");
    expect(clientListHref({ sort: "requests", order: "asc" })).toBe("/clients?sort=requests&order=asc");
    expect(clientListHref({ q: "a&b=c" })).toBe("/clients?q=a%26b%3Dc");
  });
  it("paging texts: exact counts as the spec writes them, capped counts as 'more than'", () => {
    const exact = { page: 1, pageCount: 25, pageSize: 50, total: 1_234, totalExact: true };
    expect(pagingTexts(exact)).toEqual({ showing: "Showing 1–50 of 1,234", pageOf: "Page 1 of 25", hasNext: true });
    expect(pagingTexts({ ...exact, page: 25 })).toEqual({ showing: "Showing 1,201–1,234 of 1,234", pageOf: "Page 25 of 25", hasNext: false });
    expect(pagingTexts({ ...exact, page: 1, pageCount: 1, total: 0 }).showing).toBe("Showing 0–0 of 0");
    const capped = { page: 20, pageCount: 20, pageSize: 50, total: 1_000, totalExact: false };
    expect(pagingTexts(capped)).toEqual({ showing: "Showing 951–1,000 of more than 1,000", pageOf: "Page 20 of more than 20", hasNext: true });
  });
  it("escapes LIKE wildcards", () => {
    expect(likeContains("50%_Off\\")).toBe("%50\\%\\_off\\\\%");
  });
});

describe("client names", () => {
  it("accepts the documented alphabet and trims", () => {
    expect(validateClientName("  research-bot ")).toEqual({ ok: true, name: "research-bot" });
    expect(validateClientName("data.pipeline_2")).toEqual({ ok: true, name: "data.pipeline_2" });
    expect(validateClientName("7zip")).toEqual({ ok: true, name: "7zip" });
    expect(validateClientName("Übersetzer")).toEqual({ ok: true, name: "Übersetzer" });
  });
  it.each([
    [undefined, "Enter a name"],
    [42, "Enter a name"],
    ["", "Enter a name"],
    ["_x", "Start with a letter or a digit"],
    [".x", "Start with a letter or a digit"],
    ["a b", "no spaces"],
    ["a/b", "Use only"],
    ["a\"b", "Use only"],
    ["DEFAULT", "reserved"],
    ["x".repeat(65), "at most 64"],
  ])("rejects %j", (input, message) => {
    const r = validateClientName(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join(" ")).toContain(message);
  });
  it("counts characters, not bytes", () => {
    expect(validateClientName("é".repeat(64)).ok).toBe(true);
    expect(validateClientName("é".repeat(65)).ok).toBe(false);
  });
});

describe("formatting", () => {
  it("formats counts with separators, including values beyond 2^53", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount("9007199254740993")).toBe("9,007,199,254,740,993");
    expect(formatCount(null)).toBe("0");
  });
  it("rounds coins on the digits", () => {
    expect(formatCoins("1234.565000")).toBe("1,234.57");
    expect(formatCoins("0.004999")).toBe("0.00");
    expect(formatCoins("0.005")).toBe("0.01");
    expect(formatCoins("-3.456")).toBe("-3.46");
    expect(formatCoins("-0.001")).toBe("0.00");
    expect(formatCoins("99999999999999.999999")).toBe("100,000,000,000,000.00");
    expect(formatCoins("12")).toBe("12.00");
  });
});

describe("sign-in return address", () => {
  it("keeps same-origin paths and drops everything else", () => {
    expect(safeCallbackPath("/clients?q=a&page=2")).toBe("/clients?q=a&page=2");
    expect(safeCallbackPath("http://localhost:3000/clients/abc")).toBe("/clients/abc");
    expect(safeCallbackPath("https://evil.example/phish")).toBe("/clients");
    expect(safeCallbackPath("//evil.example")).toBe("/clients");
    expect(safeCallbackPath("/\\evil.example")).toBe("/clients");
    expect(safeCallbackPath("javascript:alert(1)")).toBe("/clients");
    expect(safeCallbackPath(undefined)).toBe("/clients");
    expect(safeCallbackPath("/signin?callbackUrl=/x")).toBe("/clients");
  });
});
