/**
 * Coins admitted per second over the last few seconds (lease.ts sizes its top-ups from it), in 100 ms
 * buckets. A client seen for less than the window is averaged over the time it has been seen (at
 * least half a second), so the rate of a client that just started is not under-read.
 */
const BUCKET_MS = 100;
const BUCKETS = 50; // 5 s
const MIN_SPAN_MS = 500;

export class RateWindow {
  private readonly buckets: bigint[] = new Array<bigint>(BUCKETS).fill(0n);
  private bucket = 0;
  private firstAt: number | null = null;

  private advance(nowMs: number): void {
    const b = Math.floor(nowMs / BUCKET_MS);
    if (b === this.bucket) return;
    const steps = Math.min(BUCKETS, b - this.bucket);
    for (let i = 1; i <= steps; i++) this.buckets[(this.bucket + i) % BUCKETS] = 0n;
    this.bucket = b;
  }

  /** Counts `micro` coins admitted at `nowMs` (performance.now()). */
  add(micro: bigint, nowMs: number): void {
    this.advance(nowMs);
    this.firstAt ??= nowMs;
    this.buckets[this.bucket % BUCKETS]! += micro;
  }

  /** Micro-coins per second over the window (or the time since the first admission, ≥ 0.5 s). */
  perSecond(nowMs: number): bigint {
    this.advance(nowMs);
    const span = this.firstAt === null ? BUCKETS * BUCKET_MS : Math.min(BUCKETS * BUCKET_MS, Math.max(MIN_SPAN_MS, nowMs - this.firstAt));
    return (this.buckets.reduce((a, b) => a + b, 0n) * 1000n) / BigInt(Math.ceil(span));
  }
}
