/**
 * Key expiry and rotation grace: the choices the dialogs offer and the instants they mean. Pure (no
 * database, no clock of its own): `now` is passed in, so tests can put the edges where they want them.
 *
 * A preset ("30 days") means exactly that many days from now. A date means "valid through that day" in
 * the browser's time zone (the dialog sends its UTC offset), so the key stops at the next midnight there.
 * `keys.max_lifetime_days` caps both for everyone when set: presets beyond it and "Never" are refused,
 * and on the last allowed day a date is cut to the exact cap.
 *
 * Imported by the dialogs (client components), so it stays free of server modules and of zod.
 */
export const DAY_MS = 86_400_000;
/** The longest lifetime anyone may choose when no cap is configured (the schema's bound too). */
export const LIFETIME_LIMIT_DAYS = 36_500;

export const EXPIRY_PRESETS = [30, 90, 365] as const;
export const EXPIRY_CHOICES = ["never", "30", "90", "365", "date"] as const;
export type ExpiryChoice = (typeof EXPIRY_CHOICES)[number];

/** What the New API Key form sends about expiry (all strings from FormData; anything else is refused). */
export interface ExpiryInput {
  expiry?: unknown;
  /** YYYY-MM-DD, for expiry "date". */
  expiresOn?: unknown;
  /** The browser's `Date#getTimezoneOffset()` in minutes (UTC − local); absent or odd → UTC. */
  tzOffset?: unknown;
}

export type ExpiryResult =
  | { ok: true; expiresAt: Date | null }
  | { ok: false; field: "expiry" | "expiresOn"; message: string };

const MAX_TZ_OFFSET = 14 * 60;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function tzOffsetMinutes(raw: unknown): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : 0;
  return Number.isInteger(n) && Math.abs(n) <= MAX_TZ_OFFSET ? n : 0;
}

/** The local calendar day (YYYY-MM-DD) of an instant, in a zone `offset` minutes behind UTC. */
export function localDay(at: Date | number, offset: number): string {
  return new Date(+at - offset * 60_000).toISOString().slice(0, 10);
}

/** The instant a key "valid through `day`" stops: the next local midnight. Null for a malformed or impossible day. */
export function endOfLocalDay(day: string, offset: number): Date | null {
  const m = DATE.exec(day);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const start = Date.UTC(y, mo - 1, d);
  const check = new Date(start);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  return new Date(start + DAY_MS + offset * 60_000);
}

export function formatDays(days: number): string {
  return `${days.toLocaleString("en-US")} ${days === 1 ? "day" : "days"}`;
}

/** The expiry the dialog preselects: Never without a cap, else the longest preset within it, else a date. */
export function defaultExpiryChoice(maxDays: number | null): ExpiryChoice {
  if (maxDays === null) return "never";
  const fitting = EXPIRY_PRESETS.filter((d) => d <= maxDays);
  const longest = fitting[fitting.length - 1];
  return longest ? (String(longest) as ExpiryChoice) : "date";
}

/** Whether the dialog may offer a choice under the cap (it shows the others disabled, with the reason). */
export function choiceAllowed(choice: ExpiryChoice, maxDays: number | null): boolean {
  if (maxDays === null || choice === "date") return true;
  if (choice === "never") return false;
  return Number(choice) <= maxDays;
}

/**
 * The expiry instant of a new key, or the message for the field that is wrong. `maxDays` null: no cap.
 */
export function resolveExpiry(input: ExpiryInput, now: Date, maxDays: number | null): ExpiryResult {
  // Absent (an older form) means Never; anything else must be one of the choices.
  const choice = input.expiry === undefined || input.expiry === "" ? "never" : input.expiry;
  if (typeof choice !== "string" || !(EXPIRY_CHOICES as readonly string[]).includes(choice)) {
    return { ok: false, field: "expiry", message: "Choose when the key expires." };
  }
  const capText = maxDays === null ? "" : formatDays(maxDays);
  if (choice === "never") {
    if (maxDays === null) return { ok: true, expiresAt: null };
    return { ok: false, field: "expiry", message: `Keys must expire within ${capText} here. Choose a shorter expiry.` };
  }
  if (choice !== "date") {
    const days = Number(choice);
    if (maxDays !== null && days > maxDays) {
      return { ok: false, field: "expiry", message: `Keys may live at most ${capText} here. Choose a shorter expiry.` };
    }
    return { ok: true, expiresAt: new Date(+now + days * DAY_MS) };
  }

  const offset = tzOffsetMinutes(input.tzOffset);
  const day = typeof input.expiresOn === "string" ? input.expiresOn.trim() : "";
  if (!day) return { ok: false, field: "expiresOn", message: "Choose the last day the key works." };
  const end = endOfLocalDay(day, offset);
  if (!end) return { ok: false, field: "expiresOn", message: "Enter a date as YYYY-MM-DD, for example 2030-01-31." };
  const today = localDay(now, offset);
  if (day < today) return { ok: false, field: "expiresOn", message: `Choose today (${today}) or a later date.` };
  const limitDays = maxDays ?? LIFETIME_LIMIT_DAYS;
  const limit = new Date(+now + limitDays * DAY_MS);
  const lastDay = localDay(limit, offset);
  if (day > lastDay) {
    return {
      ok: false,
      field: "expiresOn",
      message:
        maxDays === null
          ? `Choose a date before ${lastDay}.`
          : `Keys may live at most ${capText} here: choose ${lastDay} or earlier.`,
    };
  }
  return { ok: true, expiresAt: end > limit ? limit : end };
}

// ---------------------------------------------------------------------------------------------
// Rotation grace
// ---------------------------------------------------------------------------------------------

export const GRACE_CHOICES = {
  now: { label: "Immediately", ms: 0 },
  "1h": { label: "1 hour", ms: 3_600_000 },
  "24h": { label: "24 hours", ms: 24 * 3_600_000 },
  "7d": { label: "7 days", ms: 7 * DAY_MS },
} as const;
export type GraceChoice = keyof typeof GRACE_CHOICES;
export const DEFAULT_GRACE: GraceChoice = "24h";

export const GRACE_MESSAGE = "Choose how long the old secret keeps working.";

/** The grace a form chose, or null when it is not one of the choices. (No zod here: the dialog imports this file.) */
export function parseGrace(raw: unknown): GraceChoice | null {
  return typeof raw === "string" && Object.hasOwn(GRACE_CHOICES, raw) ? (raw as GraceChoice) : null;
}

// ---------------------------------------------------------------------------------------------
// Display
// ---------------------------------------------------------------------------------------------

/**
 * "in 12 days", "in 5 hours", "in 3 minutes", "in less than a minute" (rounded: a 30-day key created a
 * moment ago says "in 30 days"); null once the instant has passed.
 */
export function timeUntil(at: Date, now: Date): string | null {
  const ms = +at - +now;
  if (ms <= 0) return null;
  const unit = (n: number, word: string) => `in ${n} ${word}${n === 1 ? "" : "s"}`;
  if (ms >= 1.5 * DAY_MS) return unit(Math.round(ms / DAY_MS), "day");
  if (ms >= 90 * 60_000) return unit(Math.round(ms / 3_600_000), "hour");
  if (ms >= 60_000) return unit(Math.round(ms / 60_000), "minute");
  return "in less than a minute";
}
