/** Display helpers. Big counters arrive as strings or bigints from SQL; never round-trip them through float. */

const countFormat = new Intl.NumberFormat("en-US");

export function formatCount(value: string | number | bigint | null | undefined): string {
  if (value === null || value === undefined || value === "") return "0";
  try {
    return countFormat.format(typeof value === "string" ? BigInt(value.split(".")[0] ?? "0") : value);
  } catch {
    return String(value);
  }
}

/**
 * Formats an exact decimal string ("1234.567891") with `places` decimals, rounding half away from zero,
 * with thousands separators: "1,234.57". Works on the digits, so no float error can creep in.
 */
export function formatCoins(value: string | number | null | undefined, places = 2): string {
  const text = value === null || value === undefined || value === "" ? "0" : String(value).trim();
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return text;
  const negative = match[1] === "-";
  const whole = match[2] || "0";
  const frac = (match[3] ?? "").padEnd(places + 1, "0");
  let scaled = BigInt(whole + frac.slice(0, places));
  if (Number(frac[places]) >= 5) scaled += 1n;
  const str = scaled.toString().padStart(places + 1, "0");
  const intPart = str.slice(0, str.length - places);
  const decPart = str.slice(str.length - places);
  const isZero = scaled === 0n;
  const grouped = countFormat.format(BigInt(intPart));
  return `${negative && !isZero ? "-" : ""}${grouped}${places > 0 ? "." + decPart : ""}`;
}

/**
 * Seconds of audio (exact decimal text from SQL, "83.500") as "1 h 2 min", "1 min 24 s" or "12.5 s"
 * (rounded to what is shown).
 */
export function formatAudioSeconds(value: string | number | null | undefined): string {
  const seconds = Number(value ?? 0);
  if (!Number.isFinite(seconds) || seconds <= 0) return "0 s";
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${formatCount(Math.floor(minutes / 60))} h ${minutes % 60} min`;
}
