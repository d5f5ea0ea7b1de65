/** Coins admitted per second over the last few seconds (lease.ts sizes its top-ups from it). */
const SECONDS = 5;

export class RateWindow {
  private readonly buckets: bigint[] = new Array<bigint>(SECONDS).fill(0n);
  private second = 0;

  private advance(nowMs: number): void {
    const s = Math.floor(nowMs / 1000);
    if (s === this.second) return;
    const steps = Math.min(SECONDS, s - this.second);
    for (let i = 1; i <= steps; i++) this.buckets[(this.second + i) % SECONDS] = 0n;
    this.second = s;
  }

  /** Counts `micro` coins admitted at `nowMs` (performance.now()). */
  add(micro: bigint, nowMs: number): void {
    this.advance(nowMs);
    this.buckets[this.second % SECONDS]! += micro;
  }

  /** Micro-coins per second, averaged over the window. */
  perSecond(nowMs: number): bigint {
    this.advance(nowMs);
    return this.buckets.reduce((a, b) => a + b, 0n) / BigInt(SECONDS);
  }
}
