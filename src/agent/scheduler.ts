// When to sync: changes are coalesced, one sync runs at a time, and syncs are
// rate-limited as kube-proxy's BoundedFrequencyRunner does it: a token bucket
// of `burst` syncs (kube-proxy: 2) refilled one per minIntervalMs
// (--min-sync-period; 0 = no limit). So a lone change right after a periodic
// resync is not held back a whole period, while a stream of changes is
// batched once per period. A failed sync is retried with backoff until one
// succeeds.

export interface SchedulerOptions {
  readonly minIntervalMs: number;
  /** Syncs that may start back to back before minIntervalMs applies. */
  readonly burst: number;
  readonly retryMs: { readonly initial: number; readonly max: number };
  /** One sync; resolves false when it failed. */
  readonly run: () => Promise<boolean>;
}

export class SyncScheduler {
  private running = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private tokens: number;
  private refilledAt = Date.now();
  private retryDelay: number;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SchedulerOptions) {
    this.retryDelay = opts.retryMs.initial;
    this.tokens = opts.burst;
  }

  /** Something changed: sync soon. */
  request(): void {
    if (this.stopped) return;
    this.pending = true;
    if (!this.running && !this.timer) this.arm(this.untilToken());
  }

  /** Stops scheduling; waits for a sync in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle;
  }

  /** Milliseconds until a sync may start. */
  private untilToken(): number {
    const { minIntervalMs, burst } = this.opts;
    if (minIntervalMs <= 0) return 0;
    const now = Date.now();
    this.tokens = Math.min(burst, this.tokens + (now - this.refilledAt) / minIntervalMs);
    this.refilledAt = now;
    // (A microsecond of slack: the refill is float arithmetic.)
    return this.tokens >= 1 - 1e-9 ? 0 : Math.ceil((1 - this.tokens) * minIntervalMs - 1e-6);
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.idle = this.fire();
    }, delayMs);
  }

  private async fire(): Promise<void> {
    if (this.stopped || !this.pending) return;
    const wait = this.untilToken();
    if (wait > 0) return this.arm(wait);
    if (this.opts.minIntervalMs > 0) this.tokens = Math.max(0, this.tokens - 1);
    this.pending = false;
    this.running = true;
    let ok = false;
    try {
      ok = await this.opts.run();
    } catch {
      ok = false; // a sync that throws is a failed sync: retried, never a stopped loop
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!ok) {
      this.pending = true;
      this.arm(Math.max(this.retryDelay, this.opts.minIntervalMs));
      this.retryDelay = Math.min(this.opts.retryMs.max, this.retryDelay * 2);
      return;
    }
    this.retryDelay = this.opts.retryMs.initial;
    if (this.pending) this.arm(this.untilToken());
  }
}
