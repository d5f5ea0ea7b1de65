/**
 * What a request costs (SPEC sections 5 and 6): tokens × the model's price per million tokens,
 * computed exactly in BigInt and rounded half-up to the micro-coin once, at the end.
 */
import type { ModelConfig } from "@/lib/config/schema";
import { formatMicro, parseCoins, SCALE } from "./decimal";

/** Output tokens assumed for an estimate when neither the request nor the model sets a limit. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/**
 * Prices are read with 12 decimals (not the 6 of a coin amount) so that a price such as 0.0000005 per
 * million tokens still counts exactly on large volumes.
 */
const PRICE_SCALE = 12;
/** Micro-coins = tokens × price units / (1e6 tokens per million) / 10^(PRICE_SCALE − SCALE). */
const DIVISOR = 1_000_000n * 10n ** BigInt(PRICE_SCALE - SCALE);

/**
 * Prices already read (config.yaml has a handful): reading one from its text takes a split, a template and
 * parseCoins, paid twice by every request's settlement (bench/gateway profile). Bounded, since a reloaded
 * config may bring new prices: emptied when it holds PRICE_MEMO_MAX.
 */
const priceMemo = new Map<number, bigint>();
const PRICE_MEMO_MAX = 1_024;

/** A price per million tokens in units of 10^−12 coins, exact from its decimal text. */
function priceUnits(price: number): bigint {
  const known = priceMemo.get(price);
  if (known !== undefined) return known;
  // parseCoins reads decimal text exactly and keeps 6 decimals; shifting the exponent keeps 12.
  const [mantissa, exponent = "0"] = String(price).split(/e/i);
  const units = parseCoins(`${mantissa}e${Number(exponent) + PRICE_SCALE - SCALE}`);
  if (units < 0n) throw new RangeError(`not a price: ${price}`);
  if (priceMemo.size >= PRICE_MEMO_MAX) priceMemo.clear();
  priceMemo.set(price, units);
  return units;
}

function tokenCount(tokens: number, what: string): bigint {
  if (!Number.isSafeInteger(tokens) || tokens < 0) throw new RangeError(`${what}: expected a whole number ≥ 0, got ${tokens}`);
  return BigInt(tokens);
}

/** (input × input price + output × output price) / 1e6, rounded half-up to 6 decimals, as "0.246931". */
export function costOf(model: ModelConfig, inputTokens: number, outputTokens: number): string {
  return requestCost(model, { inputTokens, outputTokens });
}

/** Audio is counted in whole milliseconds: the unit of the audio_seconds counters. */
export function audioMillis(seconds: number): bigint {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`audio seconds: expected a number ≥ 0, got ${seconds}`);
  return BigInt(Math.round(seconds * 1000));
}

/**
 * What a request costs: its tokens at the model's token prices, plus — when `billAudio` — its audio
 * at `audio_cost_per_hour` (seconds × price / 3600). Exact in BigInt, rounded half-up to the
 * micro-coin once, at the end. Tokens are priced per million (÷ 1e6), audio per 3.6e6 ms; the common
 * denominator is 18e6 × 10^(PRICE_SCALE − SCALE).
 */
export function requestCost(
  model: ModelConfig,
  usage: { inputTokens: number; outputTokens: number; audioSeconds?: number; billAudio?: boolean },
): string {
  const tokens =
    tokenCount(usage.inputTokens, "input tokens") * priceUnits(model.input_cost_per_million) +
    tokenCount(usage.outputTokens, "output tokens") * priceUnits(model.output_cost_per_million);
  const audio = usage.billAudio && usage.audioSeconds ? audioMillis(usage.audioSeconds) * priceUnits(model.audio_cost_per_hour ?? 0) : 0n;
  // tokens / DIVISOR + audio / (3.6 × DIVISOR) = (18 × tokens + 5 × audio) / (18 × DIVISOR)
  const denominator = 18n * DIVISOR;
  return formatMicro((18n * tokens + 5n * audio + denominator / 2n) / denominator);
}

/**
 * The output tokens one answer (one choice) may produce: the caller's limit, else the model's
 * `max_output_tokens`, else 4,096. The gateway sends exactly this number upstream and reserves for
 * it (`outputTokenBudget`, lib/gateway/limits.ts), so the estimate and the enforced limit cannot disagree.
 */
export function outputTokenLimit(model: ModelConfig, requested: number | undefined): number {
  return requested ?? model.max_output_tokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
}

/**
 * The output tokens a request may produce in all: `outputTokenLimit` for each of `choices` answers
 * (`n`, `best_of`); kept a safe integer whatever the caller asked. Admission reserves
 * costOf(prompt bound, this), and no bill exceeds it (lib/gateway/limits.ts).
 */
export function outputTokenBudget(model: ModelConfig, requested: number | undefined, choices: number): number {
  return Math.min(outputTokenLimit(model, requested) * choices, Number.MAX_SAFE_INTEGER);
}
