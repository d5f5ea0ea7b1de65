/**
 * One /v1 request's own bookkeeping, from its arrival to its answer's headers: its x-request-id, the
 * headers every answer gets whatever ends it (x-ratelimit-*), and the time Lumen itself spent.
 *
 * `x-lumen-overhead-ms` = the milliseconds from the moment the request reached the gateway to the
 * moment its answer's headers are handed to the HTTP server, minus the time spent waiting for the
 * upstream within that span: from sending the upstream request until its response headers arrived,
 * and for a non-streaming answer until its body was read. What remains is Lumen's own work —
 * authentication, body reading and validation, access, rate limits, the coin admission, endpoint
 * choice and, for JSON answers, the settlement that is committed before the answer leaves. For a
 * stream it covers everything up to the first byte; relaying the rest runs at the upstream's pace.
 * (An upload's transfer time counts as upstream time while it is being sent upstream.)
 */
export class RequestScope {
  /** performance.now() at arrival. */
  readonly startedAt = performance.now();
  /** Headers for the answer, whatever it is (the rate limiter's). */
  readonly headers: Record<string, string> = {};
  private upstreamMs = 0;

  constructor(readonly requestId: string) {}

  /** Awaits upstream work, counting the wait as the upstream's time. */
  async upstream<T>(work: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work;
    } finally {
      this.upstreamMs += performance.now() - t0;
    }
  }

  /** Lumen's own milliseconds so far (see the header), three decimals. */
  overheadMs(): string {
    return Math.max(0, performance.now() - this.startedAt - this.upstreamMs).toFixed(3);
  }
}
