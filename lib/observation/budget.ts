/**
 * A budget of provider requests per second, spent evenly: each `take()` waits
 * for the next slot, `1000 / perSecond` ms after the previous one (no bursts,
 * so the rate holds over any window, not only on average). `pauseUntil(t)`
 * holds every later slot back until `t`: a provider's `429` with
 * `Retry-After` asks exactly that.
 *
 * One pacer serves one batch of observations; the batch function's
 * concurrency limit bounds how many run at once, and each gets the budget
 * divided by that limit, so the whole fleet's requests stay within the budget
 * across processes without a shared counter.
 */
export class RequestPacer {
  private next: number;
  private readonly spacingMs: number;

  constructor(
    perSecond: number,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> },
  ) {
    if (!(perSecond > 0)) throw new RangeError("perSecond must be positive");
    this.spacingMs = 1000 / perSecond;
    this.next = clock.now();
  }

  /** Resolves at this caller's slot. */
  async take(): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(this.next, now);
    this.next = at + this.spacingMs;
    if (at > now) await this.clock.sleep(at - now);
  }

  /** No slot before `at` (epoch ms). */
  pauseUntil(at: number): void {
    this.next = Math.max(this.next, at);
  }
}
