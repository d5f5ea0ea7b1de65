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
