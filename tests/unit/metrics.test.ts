import { describe, expect, it } from "vitest";
import { metrics, recordRefusalMetric, recordRequestMetric } from "@/lib/metrics";

describe("metrics", () => {
  it("counts requests, tokens, coins, refusals and latency in Prometheus text", async () => {
    recordRequestMetric({
      clientId: "00000000-0000-4000-8000-000000000001", clientName: "research-bot", keyId: null, endpoint: "builtin:echo",
      model: "echo", status: 200, inputTokens: 12, outputTokens: 30, coins: "0.000036", durationMs: 42, ttftMs: 7,
      streamed: true, usageEstimated: false, errorCode: null,
    });
    recordRefusalMetric("insufficient_quota");
    const text = await metrics().registry.metrics();
    expect(text).toContain('lumen_requests_total{client="research-bot",model="echo",status="200"} 1');
    expect(text).toContain('lumen_tokens_total{client="research-bot",model="echo",kind="input"} 12');
    expect(text).toContain('lumen_tokens_total{client="research-bot",model="echo",kind="output"} 30');
    expect(text).toContain('lumen_refusals_total{reason="insufficient_quota"} 1');
    expect(text).toMatch(/lumen_time_to_first_token_seconds_count\{model="echo"\} 1/);
    expect(text).toMatch(/lumen_request_duration_seconds_bucket\{le="0.05",model="echo",streamed="true"\} 1/);
    expect(metrics()).toBe(metrics());
  });
});
