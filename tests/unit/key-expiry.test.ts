import { describe, expect, it } from "vitest";
import {
  choiceAllowed,
  DAY_MS,
  defaultExpiryChoice,
  endOfLocalDay,
  GRACE_CHOICES,
  parseGrace,
  localDay,
  resolveExpiry,
  timeUntil,
} from "@/lib/keys/expiry";
import { expiredApiKey } from "@/lib/gateway/errors";

const NOW = new Date("2026-03-10T15:30:00.000Z");

describe("resolveExpiry", () => {
  it("Never and the presets, without a cap", () => {
    expect(resolveExpiry({ expiry: "never" }, NOW, null)).toEqual({ ok: true, expiresAt: null });
    // a form without the field (an older page) means Never
    expect(resolveExpiry({}, NOW, null)).toEqual({ ok: true, expiresAt: null });
    for (const days of [30, 90, 365]) {
      expect(resolveExpiry({ expiry: String(days) }, NOW, null)).toEqual({ ok: true, expiresAt: new Date(+NOW + days * DAY_MS) });
    }
  });

  it("refuses anything that is not a choice", () => {
    for (const expiry of ["7", "forever", "30 ", 30, null, ["30"]]) {
      expect(resolveExpiry({ expiry }, NOW, null)).toMatchObject({ ok: false, field: "expiry" });
    }
  });

  it("a cap refuses Never and longer presets, with the cap in the message", () => {
    expect(resolveExpiry({ expiry: "never" }, NOW, 90)).toEqual({
      ok: false,
      field: "expiry",
      message: "Keys must expire within 90 days here. Choose a shorter expiry.",
    });
    expect(resolveExpiry({ expiry: "365" }, NOW, 90)).toMatchObject({ ok: false, field: "expiry", message: expect.stringContaining("at most 90 days") });
    expect(resolveExpiry({ expiry: "90" }, NOW, 90)).toEqual({ ok: true, expiresAt: new Date(+NOW + 90 * DAY_MS) });
    expect(resolveExpiry({ expiry: "30" }, NOW, 1)).toMatchObject({ ok: false, message: expect.stringContaining("at most 1 day here") });
  });

  it("a date is valid through that day in the browser's zone", () => {
    // UTC
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-01", tzOffset: "0" }, NOW, null)).toEqual({
      ok: true,
      expiresAt: new Date("2026-04-02T00:00:00.000Z"),
    });
    // New York in summer time (UTC−4: getTimezoneOffset() = 240): midnight there is 04:00 UTC
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-01", tzOffset: "240" }, NOW, null)).toEqual({
      ok: true,
      expiresAt: new Date("2026-04-02T04:00:00.000Z"),
    });
    // Tokyo (UTC+9: −540)
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-01", tzOffset: "-540" }, NOW, null)).toEqual({
      ok: true,
      expiresAt: new Date("2026-04-01T15:00:00.000Z"),
    });
    // a malformed offset counts as UTC rather than failing
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-01", tzOffset: "abc" }, NOW, null)).toMatchObject({
      expiresAt: new Date("2026-04-02T00:00:00.000Z"),
    });
  });

  it("today is allowed (the key works until tonight); yesterday is not", () => {
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-03-10", tzOffset: "0" }, NOW, null)).toEqual({
      ok: true,
      expiresAt: new Date("2026-03-11T00:00:00.000Z"),
    });
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-03-09", tzOffset: "0" }, NOW, null)).toEqual({
      ok: false,
      field: "expiresOn",
      message: "Choose today (2026-03-10) or a later date.",
    });
    // In Tokyo it is already the 11th at 15:30 UTC: the 10th is in the past there.
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-03-10", tzOffset: "-540" }, NOW, null)).toMatchObject({ ok: false });
  });

  it("refuses missing, malformed and impossible dates next to the date field", () => {
    for (const expiresOn of ["", "  ", undefined, "10/04/2026", "2026-02-30", "2026-13-01", "2026-4-1"]) {
      expect(resolveExpiry({ expiry: "date", expiresOn, tzOffset: "0" }, NOW, null)).toMatchObject({ ok: false, field: "expiresOn" });
    }
  });

  it("a cap allows dates up to its last day and cuts that day at the exact cap", () => {
    const cap = 30;
    const limit = new Date(+NOW + cap * DAY_MS); // 2026-04-09T15:30Z
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-08", tzOffset: "0" }, NOW, cap)).toEqual({
      ok: true,
      expiresAt: new Date("2026-04-09T00:00:00.000Z"),
    });
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-09", tzOffset: "0" }, NOW, cap)).toEqual({ ok: true, expiresAt: limit });
    expect(resolveExpiry({ expiry: "date", expiresOn: "2026-04-10", tzOffset: "0" }, NOW, cap)).toEqual({
      ok: false,
      field: "expiresOn",
      message: "Keys may live at most 30 days here: choose 2026-04-09 or earlier.",
    });
  });

  it("without a cap, dates stop at 100 years", () => {
    expect(resolveExpiry({ expiry: "date", expiresOn: "2125-01-01", tzOffset: "0" }, NOW, null)).toMatchObject({ ok: true });
    expect(resolveExpiry({ expiry: "date", expiresOn: "2127-01-01", tzOffset: "0" }, NOW, null)).toMatchObject({ ok: false, field: "expiresOn" });
  });
});

describe("dialog defaults", () => {
  it("preselects Never without a cap, else the longest preset within it, else a date", () => {
    expect(defaultExpiryChoice(null)).toBe("never");
    expect(defaultExpiryChoice(365)).toBe("365");
    expect(defaultExpiryChoice(200)).toBe("90");
    expect(defaultExpiryChoice(30)).toBe("30");
    expect(defaultExpiryChoice(10)).toBe("date");
  });

  it("offers exactly what resolveExpiry accepts", () => {
    for (const cap of [null, 10, 30, 100, 365]) {
      for (const choice of ["never", "30", "90", "365"] as const) {
        expect(choiceAllowed(choice, cap)).toBe(resolveExpiry({ expiry: choice }, NOW, cap).ok);
      }
    }
  });
});

describe("local days", () => {
  it("localDay and endOfLocalDay agree across zones", () => {
    expect(localDay(NOW, 0)).toBe("2026-03-10");
    expect(localDay(NOW, -540)).toBe("2026-03-11");
    expect(localDay(new Date("2026-03-10T02:00:00Z"), 300)).toBe("2026-03-09");
    expect(endOfLocalDay("2024-02-29", 0)).toEqual(new Date("2024-03-01T00:00:00Z"));
    expect(endOfLocalDay("2025-02-29", 0)).toBeNull();
  });
});

describe("grace and display", () => {
  it("grace choices", () => {
    expect(Object.fromEntries(Object.entries(GRACE_CHOICES).map(([k, v]) => [k, v.ms]))).toEqual({
      now: 0,
      "1h": 3_600_000,
      "24h": 86_400_000,
      "7d": 604_800_000,
    });
    expect(parseGrace("24h")).toBe("24h");
    for (const bad of ["", "2h", "forever", "toString", "__proto__", 0, null]) expect(parseGrace(bad)).toBeNull();
  });

  it("timeUntil", () => {
    expect(timeUntil(new Date(+NOW + 30 * DAY_MS - 5000), NOW)).toBe("in 30 days");
    expect(timeUntil(new Date(+NOW + 12 * DAY_MS + 5000), NOW)).toBe("in 12 days");
    expect(timeUntil(new Date(+NOW + 2 * DAY_MS), NOW)).toBe("in 2 days");
    expect(timeUntil(new Date(+NOW + DAY_MS + 3_600_000), NOW)).toBe("in 25 hours");
    expect(timeUntil(new Date(+NOW + 2 * 3_600_000 - 1000), NOW)).toBe("in 2 hours");
    expect(timeUntil(new Date(+NOW + 60_000), NOW)).toBe("in 1 minute");
    expect(timeUntil(new Date(+NOW + 30_000), NOW)).toBe("in less than a minute");
    expect(timeUntil(NOW, NOW)).toBeNull();
    expect(timeUntil(new Date(+NOW - 1), NOW)).toBeNull();
  });

  it("expired_api_key gives the date, in OpenAI's envelope", () => {
    const at = new Date("2026-03-01T14:05:09.123Z");
    expect(expiredApiKey("key", at).toJSON()).toEqual({
      error: {
        message: "This API key expired on 2026-03-01 14:05:09 UTC. Ask a manager of the client for a new key.",
        type: "invalid_request_error",
        param: null,
        code: "expired_api_key",
      },
    });
    expect(expiredApiKey("rotated", at).status).toBe(401);
    expect(expiredApiKey("rotated", at).message).toContain("stopped working on 2026-03-01 14:05:09 UTC");
  });
});
