/** Column types shared by the tables. */
import { bigint, numeric, timestamp } from "drizzle-orm/pg-core";

/** Coins: exact decimal, 6 places. Drizzle returns numeric as string; never parse to float for arithmetic. */
export const coins = (name: string) => numeric(name, { precision: 20, scale: 6 });
export const counter = (name: string) => bigint(name, { mode: "number" });
export const ts = (name: string) => timestamp(name, { withTimezone: true });
/** Seconds of audio transcribed or translated, to the millisecond (exact decimal, read as text). */
export const audioSeconds = () => numeric("audio_seconds", { precision: 20, scale: 3 }).notNull().default("0");

/**
 * The usage counters a client, a key, a (client, model) pair and a (client, day, model) rollup each
 * carry: kept in step with request_log in the settlement transaction, so they always equal its sums.
 */
export const usageCounters = () => ({
  requests: counter("requests").notNull().default(0),
  inputTokens: counter("input_tokens").notNull().default(0),
  outputTokens: counter("output_tokens").notNull().default(0),
  coinsSpent: coins("coins_spent").notNull().default("0"),
  audioSeconds: audioSeconds(),
});
