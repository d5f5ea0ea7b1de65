/**
 * What the rate limiter (lib/gateway/rate-limits.ts) costs a request, measured in this process: one
 * admission (rpm, tpm and max_parallel, for the client and for its key: six counters) and its
 * settlement (tokens corrected, leases released), with the counters in process and in Redis.
 * Used by bench/gateway.ts, which also measures it end to end through the server.
 */
import net from "node:net";
import { randomBytes, randomUUID } from "node:crypto";
import { parseConfigText } from "@/lib/config";
import { RateLimiter } from "@/lib/gateway/rate-limits";

export const LIMITS = { rpm: 1_000_000_000, tpm: 1_000_000_000_000, max_parallel: 100_000 };

export function redisReachable(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    socket.setTimeout(1_000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

export interface LimiterCost {
  store: "memory" | "redis";
  /** Counters per request: 6 (rpm, tpm, max_parallel × client and key) or 1 (the client's rpm). */
  counters: 6 | 1;
  concurrency: number;
  /** Wall time per request (admit + finish), µs: mean over the run, and percentiles of admit alone. */
  meanUs: number;
  p50AdmitUs: number;
  p99AdmitUs: number;
  /** CPU of this process per request, µs. */
  cpuUs: number;
}

/** `n` admissions + settlements, `concurrency` at a time, against limits that never refuse. */
export async function limiterCost(store: "memory" | "redis", redisUrl: string, n: number, concurrency: number, counters: 6 | 1 = 6): Promise<LimiterCost> {
  const storage = store === "redis" ? `rate_limits: {storage_url: "${redisUrl}", key_prefix: lumen-bench-${randomBytes(4).toString("hex")}}\n` : "";
  const { config } = parseConfigText(`${storage}clients: {default: {max: -2}}`, "bench-limiter.yaml");
  const limiter = new RateLimiter(() => config);
  const limits = counters === 6 ? { client: LIMITS, key: LIMITS } : { client: { rpm: LIMITS.rpm }, key: {} };
  const clientId = randomUUID();
  const keyIds = Array.from({ length: 8 }, () => randomUUID());
  const one = async (i: number) => {
    const t0 = performance.now();
    const ticket = await limiter.admit({ clientId, keyId: keyIds[i % keyIds.length]!, limits, tokens: 40, leaseMs: 660_000 });
    const admitted = performance.now() - t0;
    ticket?.finish(20);
    return admitted;
  };
  try {
    for (let i = 0; i < 500; i++) await one(i); // warm-up: connection, JIT
    const samples: number[] = [];
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) samples.push(await one(next++));
      }),
    );
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    samples.sort((a, b) => a - b);
    const at = (p: number) => samples[Math.min(samples.length - 1, Math.ceil(p * samples.length) - 1)]! * 1000;
    return {
      store,
      counters,
      concurrency,
      meanUs: (wall / n) * 1000,
      p50AdmitUs: at(0.5),
      p99AdmitUs: at(0.99),
      cpuUs: (cpu.user + cpu.system) / n,
    };
  } finally {
    await new Promise((r) => setTimeout(r, 200)); // let the last settlements reach the store
    await limiter.close();
  }
}
