/**
 * Exact coin amounts: BigInt micro-coins (6 decimal places, like the database's numeric(20,6)).
 * Money never goes through a float: numbers from config are read via their decimal string form.
 */

export const SCALE = 6;
export const MICRO = 1_000_000n;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/**
 * Parses "12.5", "-0.000001", "1e-7", 0.05 … into micro-coins. More than 6 decimals are rounded
 * half away from zero, as PostgreSQL does when casting to numeric(20,6). Throws on anything else.
 */
export function parseCoins(value: string | number | bigint): bigint {
  if (typeof value === "bigint") return value * MICRO;
  if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError(`not a coin amount: ${value}`);
  // String(0.05) is "0.05": the shortest representation that reads back as the same double.
  const text = String(value).trim();
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new RangeError(`not a coin amount: ${JSON.stringify(value)}`);
  const negative = m[1] === "-";
  let digits = (m[2] ?? "") + (m[3] ?? "");
  // Position of the decimal point counted from the start of `digits`.
  let point = (m[2] ?? "").length + Number(m[4] ?? "0");
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (digits.length < point + SCALE + 1) digits = digits.padEnd(point + SCALE + 1, "0");
  // Keep SCALE decimals plus one guard digit for rounding.
  const kept = BigInt(digits.slice(0, point + SCALE) || "0");
  const guard = Number(digits[point + SCALE] ?? "0");
  const magnitude = guard >= 5 ? kept + 1n : kept;
  return negative ? -magnitude : magnitude;
}

/** "12.345678", "-0.500000", "100.000000": always 6 decimals, like numeric(20,6) as text. */
export function formatMicro(micro: bigint): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const whole = abs / MICRO;
  const frac = (abs % MICRO).toString().padStart(SCALE, "0");
  return `${negative ? "-" : ""}${whole}.${frac}`;
}

/** A coin amount in the canonical 6-decimal text form. */
export function normalizeCoins(value: string | number): string {
  return formatMicro(parseCoins(value));
}

export const addMicro = (a: bigint, b: bigint): bigint => a + b;
export const subMicro = (a: bigint, b: bigint): bigint => a - b;

/** Micro-coins times a whole number (e.g. refresh × hours). */
export function mulMicro(a: bigint, times: number | bigint): bigint {
  if (typeof times === "number" && !Number.isInteger(times)) throw new RangeError(`not a whole number: ${times}`);
  return a * BigInt(times);
}

export const minMicro = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxMicro = (a: bigint, b: bigint): bigint => (a > b ? a : b);
export const compareMicro = (a: bigint, b: bigint): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/** For display only (percentages, charts); never for arithmetic on money. */
export function microToNumber(micro: bigint): number {
  return Number(micro) / Number(MICRO);
}
