import { Counter, Histogram, Registry } from "prom-client";
import type { RequestRecord } from "@/lib/coins/request-record";
import { processState } from "@/lib/process-state";

/**
 * Prometheus metrics of the gateway, one registry per process (kept in the process state so Next's module
 * reloading never registers a metric twice). Served at /metrics only when config enables it.
 * Labels are client and model names (bounded by the console), never keys or user input.
 */
interface Metrics {
  registry: Registry;
  requests: Counter<"client" | "model" | "status">;
  tokens: Counter<"client" | "model" | "kind">;
  coins: Counter<"client" | "model">;
  refusals: Counter<"reason">;
  duration: Histogram<"model" | "streamed">;
  ttft: Histogram<"model">;
}

export function metrics(): Metrics {
  const state = processState();
  if (state.metrics) return state.metrics as Metrics;
  const registry = new Registry();
  const m: Metrics = {
    registry,
    requests: new Counter({
      name: "lumen_requests_total",
      help: "Requests that reached an upstream, by client, model and HTTP status",
      labelNames: ["client", "model", "status"],
      registers: [registry],
    }),
    tokens: new Counter({
      name: "lumen_tokens_total",
      help: "Tokens billed, by client, model and kind (input or output)",
      labelNames: ["client", "model", "kind"],
      registers: [registry],
    }),
    coins: new Counter({
      name: "lumen_coins_total",
      help: "Coins charged, by client and model (exact totals are in the database)",
      labelNames: ["client", "model"],
      registers: [registry],
    }),
    refusals: new Counter({
      name: "lumen_refusals_total",
      help: "Requests refused before any upstream call, by reason (the error code)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "lumen_request_duration_seconds",
      help: "Gateway request duration, by model and whether it streamed",
      labelNames: ["model", "streamed"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    ttft: new Histogram({
      name: "lumen_time_to_first_token_seconds",
      help: "Time to the first streamed token, by model",
      labelNames: ["model"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
  state.metrics = m;
  return m;
}

/** Counts a settled request (its record, as written to the request log). */
export function recordRequestMetric(r: RequestRecord): void {
  const m = metrics();
  const client = r.clientName;
  m.requests.inc({ client, model: r.model, status: String(r.status) });
  if (r.inputTokens) m.tokens.inc({ client, model: r.model, kind: "input" }, r.inputTokens);
  if (r.outputTokens) m.tokens.inc({ client, model: r.model, kind: "output" }, r.outputTokens);
  const coins = Number(r.coins);
  if (coins > 0) m.coins.inc({ client, model: r.model }, coins);
  m.duration.observe({ model: r.model, streamed: String(r.streamed) }, r.durationMs / 1000);
  if (r.ttftMs !== null) m.ttft.observe({ model: r.model }, r.ttftMs / 1000);
}

export function recordRefusalMetric(reason: string): void {
  metrics().refusals.inc({ reason });
}
