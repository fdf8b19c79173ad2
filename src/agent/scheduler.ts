// When to sync: changes are coalesced, syncs start at least minIntervalMs
// apart (kube-proxy's --min-sync-period; 0 = at once), one runs at a time, and
// a failed sync is retried with backoff until one succeeds.

export interface SchedulerOptions {
  readonly minIntervalMs: number;
  readonly retryMs: { readonly initial: number; readonly max: number };
  /** One sync; resolves false when it failed. */
  readonly run: () => Promise<boolean>;
}

export class SyncScheduler {
  private running = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = -Infinity;
  private retryDelay: number;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SchedulerOptions) {
    this.retryDelay = opts.retryMs.initial;
  }

  /** Something changed: sync soon. */
  request(): void {
    if (this.stopped) return;
    this.pending = true;
    if (!this.running && !this.timer) this.arm(Math.max(0, this.lastStart + this.opts.minIntervalMs - Date.now()));
  }

  /** Stops scheduling; waits for a sync in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.idle = this.fire();
    }, delayMs);
  }

  private async fire(): Promise<void> {
    if (this.stopped || !this.pending) return;
    this.pending = false;
    this.running = true;
    this.lastStart = Date.now();
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
    if (this.pending) this.arm(Math.max(0, this.lastStart + this.opts.minIntervalMs - Date.now()));
  }
}
