import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { apiKeyHint, generateApiKey, hashApiKey, looksLikeApiKey } from "@/lib/keys/api-key";
import { keyNameSchema } from "@/lib/keys/commands";

const SECRET = "unit-test-secret-unit-test-secret-0123";
const FORMAT = /^sk_[A-Za-z0-9_-]{43}$/;

describe("API key generation", () => {
  it("is sk_ followed by 43 URL-safe characters (46 in all)", () => {
    const { plaintext } = generateApiKey(SECRET);
    expect(plaintext).toHaveLength(46);
    expect(plaintext).toMatch(FORMAT);
    expect(looksLikeApiKey(plaintext)).toBe(true);
    // 32 bytes of entropy: the secret part decodes back to exactly 32 bytes
    expect(Buffer.from(plaintext.slice(3), "base64url")).toHaveLength(32);
  });

  it("never repeats over 1,000 keys, and uses the whole alphabet", () => {
    const keys = Array.from({ length: 1000 }, () => generateApiKey(SECRET));
    expect(new Set(keys.map((k) => k.plaintext)).size).toBe(1000);
    expect(new Set(keys.map((k) => k.hash)).size).toBe(1000);
    for (const k of keys) expect(k.plaintext).toMatch(FORMAT);
    // 42 free characters × 1,000 keys: every one of the 64 symbols shows up, none dominates
    const counts = new Map<string, number>();
    for (const k of keys) for (const c of k.plaintext.slice(3, 45)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(64);
    const expected = (42 * 1000) / 64;
    for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.25);
  });

  it("hints show the first and last four characters of the secret part", () => {
    const plaintext = "sk_AbCd" + "x".repeat(35) + "wxyz";
    expect(plaintext).toHaveLength(46);
    expect(apiKeyHint(plaintext)).toBe("sk_AbCd…wxyz");
    const key = generateApiKey(SECRET);
    expect(key.hint).toBe(`sk_${key.plaintext.slice(3, 7)}…${key.plaintext.slice(-4)}`);
    expect(key.hint).not.toContain(key.plaintext.slice(7, 42));
  });

  it("hashes with HMAC-SHA256 keyed by the server secret", () => {
    const key = generateApiKey(SECRET);
    expect(key.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(key.hash).toBe(crypto.createHmac("sha256", SECRET).update(key.plaintext).digest("hex"));
    expect(hashApiKey(key.plaintext, SECRET)).toBe(key.hash);
    expect(hashApiKey(key.plaintext, SECRET + "x")).not.toBe(key.hash);
    expect(key.hash).not.toBe(crypto.createHash("sha256").update(key.plaintext).digest("hex"));
    expect(key.hash).not.toContain(key.plaintext.slice(3));
  });

  it.each([
    ["", false],
    ["sk_", false],
    ["sk_" + "a".repeat(42), false],
    ["sk_" + "a".repeat(44), false],
    ["SK_" + "a".repeat(43), false],
    ["sk_" + "a".repeat(42) + "=", false],
    ["sk_" + "a".repeat(42) + "+", false],
    [" sk_" + "a".repeat(43), false],
    ["sk_" + "aZ09-_".repeat(7) + "b", true],
  ])("looksLikeApiKey(%j) is %s", (value, ok) => {
    expect(looksLikeApiKey(value)).toBe(ok);
  });
});

describe("key names", () => {
  const check = (raw: unknown) => keyNameSchema.safeParse(raw);

  it.each(["production", "staging", "ci-runner", "Jane's laptop", "<script>alert(1)</script>", "日本語 🔑", "a".repeat(64)])(
    "accepts %j",
    (name) => {
      const r = check(name);
      expect(r.success && r.data).toBe(name);
    },
  );

  it("trims", () => {
    const r = check("  production \t");
    expect(r.success && r.data).toBe("production");
  });

  it.each([
    ["", "Enter a name."],
    ["   ", "Enter a name."],
    ["a".repeat(65), "at most 64"],
    ["line\nbreak", "printable"],
    ["bell\u0007", "printable"],
    ["evil\u202Eexe.txt", "printable"],
    [42, "Enter a name."],
  ])("refuses %j", (raw, message) => {
    const r = check(raw);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.map((i) => i.message).join(" ")).toContain(message);
  });
});
