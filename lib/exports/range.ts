/**
 * The date range of a CSV export (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, UTC days, both included). Pure and
 * free of server imports: the Export dialog checks the same rules before it asks for a file.
 */
export const MAX_EXPORT_DAYS = 731;
const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface ExportRange {
  from: string;
  to: string;
  /** [start, end): the first instant of `from` and the first instant after `to`, UTC. */
  start: Date;
  end: Date;
  days: number;
}

export type RangeResult = { ok: true; range: ExportRange } | { ok: false; errors: { from?: string[]; to?: string[] } };

/** Epoch ms of a real day from 1970 on (earlier ones hold no log, and year 0 would fail in SQL), else null. */
function utcDay(value: string): number | null {
  if (!DATE.test(value)) return null;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(t) || t < 0 || new Date(t).toISOString().slice(0, 10) !== value ? null : t;
}

export function parseExportRange(rawFrom: unknown, rawTo: unknown): RangeResult {
  const from = typeof rawFrom === "string" ? rawFrom.trim() : "";
  const to = typeof rawTo === "string" ? rawTo.trim() : "";
  const errors: { from?: string[]; to?: string[] } = {};
  const a = utcDay(from);
  const b = utcDay(to);
  if (a === null) errors.from = [from ? "Enter the first day as YYYY-MM-DD." : "Choose the first day."];
  if (b === null) errors.to = [to ? "Enter the last day as YYYY-MM-DD." : "Choose the last day."];
  if (a !== null && b !== null) {
    if (b < a) errors.to = ["The last day must not be before the first day."];
    else if ((b - a) / DAY_MS + 1 > MAX_EXPORT_DAYS) {
      errors.to = [`Choose at most ${MAX_EXPORT_DAYS} days (about two years) per file.`];
    }
  }
  if (a === null || b === null || errors.from || errors.to) return { ok: false, errors };
  return { ok: true, range: { from, to, start: new Date(a), end: new Date(b + DAY_MS), days: (b - a) / DAY_MS + 1 } };
}

/** The last 30 UTC days up to `now`'s day: the dialog's initial range. */
export function defaultExportRange(now: Date = new Date()): { from: string; to: string } {
  const to = now.toISOString().slice(0, 10);
  const from = new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
  return { from, to };
}
