/**
 * Virtual time for code that waits, so a minute of paced, concurrent work runs
 * in the time its computation takes. `sleep(ms)` resolves when the clock
 * reaches now + ms; `runUntil(done)` moves the clock to the earliest waiter
 * whenever one waits, giving real I/O (the database) a turn between moves.
 * Waits are resolved in time order, so concurrent sleepers interleave as they
 * would in real time. Nothing here is production code.
 */
export function virtualClock(start: number) {
  let now = start;
  let waiters: { at: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => waiters.push({ at: now + Math.max(0, ms), resolve }));
    },
    async runUntil(done: () => boolean, what: string, maxMoves = 1_000_000): Promise<void> {
      for (let i = 0; !done(); i++) {
        if (i > maxMoves) throw new Error(`virtual clock: ${what} did not happen`);
        await new Promise((r) => setImmediate(r));
        if (waiters.length === 0) continue;
        now = Math.max(now, Math.min(...waiters.map((w) => w.at)));
        const due = waiters.filter((w) => w.at <= now);
        waiters = waiters.filter((w) => w.at > now);
        for (const w of due) w.resolve();
      }
    },
  };
}
