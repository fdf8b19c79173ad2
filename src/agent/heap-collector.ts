// When the agent collects its heap itself, rather than leaving it to V8.
// After a whole rewrite the heap is mostly garbage (the lists' pages, the full
// render), and more becomes so as the start settles; after a burst of changes
// it holds the burst's. V8's memory reducer
// may leave either for minutes (at 10k Services, 26 MB of an 85 MB heap 45 s
// after a 100/s churn, in some runs and not others), and the settled RSS is
// what every node pays for the agent. `gc` exists where the bin's --expose-gc
// is given (not under test runners), so elsewhere this does nothing; the bin
// also turns the memory reducer off, as it would only collect again what was
// just collected, while the node is idle. Each collection also gives the C
// heap's free pages back (malloc-trim.ts).
//
// Once the first whole rewrite is committed, V8 is also told to collect in
// full whenever the old generation has grown 30% past what lived after the
// last collection: from then on, what a burst leaves behind is collected
// before it piles up. Not before (the bin starts V8 at 60%): through the cold
// start nearly all the old generation holds stays live, and collecting at
// every 30% only marked it again, 7-11% of the start's CPU at 10k Services.
import v8 from 'node:v8';
import { trimMalloc } from '../kernel/malloc-trim.js';

/** Quiet this long after a commit that changed something, the burst is over. */
export const QUIET_MS = 10_000;
/**
 * Commits with changes since the last collection that make a burst worth one
 * (a full collection is about 40 ms at 10k Services): a change now and then
 * is left to V8.
 */
export const BURST_COMMITS = 10;

export interface HeapAccess {
  /** A full collection, or undefined where the runtime does not offer one. */
  readonly gc: (() => void) | undefined;
  /** Gives freed C memory back to the kernel. */
  readonly trim: () => void;
  /** From now on, a full collection at 30% old-generation growth. */
  readonly growSlowly: () => void;
}

const runtime: HeapAccess = {
  gc: (globalThis as { gc?: () => void }).gc,
  trim: trimMalloc,
  // Read by V8 each time it sets the next collection's limit: the collection that follows sets it so.
  growSlowly: () => v8.setFlagsFromString('--heap-growing-percent=30'),
};

export class HeapCollector {
  private commits = 0;
  /** A whole rewrite was collected at once: once quiet, collect again (see rewritten()). */
  private again = false;
  /** Made on the first change and refreshed after: a cleared Node timer cannot be refreshed, a fired one can. */
  private quiet: NodeJS.Timeout | undefined;
  private stopped = false;
  private grownSlowly = false;

  constructor(
    private readonly heap: HeapAccess = runtime,
    private readonly quietMs = QUIET_MS,
  ) {}

  /**
   * Now, whatever the heap holds: after a whole rewrite, while nothing waits,
   * rather than when the next changes allocate (a pause of 100+ ms on the
   * first change at 10k Services).
   */
  collect(): void {
    if (!this.heap.gc) return;
    this.heap.gc();
    this.heap.trim();
    this.commits = 0;
    this.again = false;
  }

  /**
   * After a whole rewrite: now, and once more when quietMs pass with no
   * change, for what was still held at the commit (the watches starting,
   * buffers of requests in flight). The first also ends the cold start's
   * heap growth (growSlowly).
   */
  rewritten(): void {
    if (!this.heap.gc || this.stopped) return;
    if (!this.grownSlowly) {
      this.heap.growSlowly();
      this.grownSlowly = true;
    }
    this.collect();
    this.again = true;
    this.arm();
  }

  /** A commit changed the kernel: once quietMs pass with no other, a burst's garbage is collected. */
  changed(): void {
    if (!this.heap.gc || this.stopped) return;
    this.commits++;
    this.arm();
  }

  /** (Re)starts the wait for quiet. */
  private arm(): void {
    if (this.quiet) {
      this.quiet.refresh();
      return;
    }
    this.quiet = setTimeout(() => {
      if (this.commits >= BURST_COMMITS || this.again) this.collect();
    }, this.quietMs);
    this.quiet.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.quiet);
  }
}
