// The agent's own heap collections: at once after a whole rewrite, and again
// once quiet; after a burst of changes only once it has been quiet for
// QUIET_MS, and only for a burst (a change now and then is left to V8); never
// where there is no gc.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BURST_COMMITS, HeapCollector, QUIET_MS } from '../../src/agent/heap-collector.js';
import { loadAddon } from '../../src/kernel/addon.js';
import { setTimeout as sleep } from 'node:timers/promises';

function counting() {
  const count = { collections: 0, trims: 0 };
  const slowed = { times: 0, collectionsBefore: -1 };
  const growSlowly = () => {
    slowed.times++;
    slowed.collectionsBefore = count.collections;
  };
  return { count, slowed, access: { gc: () => void count.collections++, trim: () => void count.trims++, growSlowly } };
}

describe('HeapCollector', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('collects at once when asked, and after a burst only once it is quiet', () => {
    const { count, access } = counting();
    const c = new HeapCollector(access);
    c.collect();
    expect(count).toEqual({ collections: 1, trims: 1 });
    // Each change of the burst puts the collection off.
    for (let k = 0; k < 2 * BURST_COMMITS; k++) {
      c.changed();
      vi.advanceTimersByTime(QUIET_MS / 2);
    }
    expect(count.collections).toBe(1);
    vi.advanceTimersByTime(QUIET_MS / 2);
    expect(count).toEqual({ collections: 2, trims: 2 });
    // Once fired, nothing more until the next burst.
    vi.advanceTimersByTime(10 * QUIET_MS);
    expect(count.collections).toBe(2);
    c.stop();
  });

  it('after a whole rewrite collects at once, and once more when quiet, even for a single change', () => {
    const { count, access } = counting();
    const c = new HeapCollector(access);
    c.rewritten();
    expect(count).toEqual({ collections: 1, trims: 1 });
    vi.advanceTimersByTime(QUIET_MS / 2);
    c.changed(); // not a burst, but it puts the second collection off
    vi.advanceTimersByTime(QUIET_MS / 2);
    expect(count.collections).toBe(1);
    vi.advanceTimersByTime(QUIET_MS / 2);
    expect(count).toEqual({ collections: 2, trims: 2 });
    // Then nothing more: a change now and then is V8's again.
    c.changed();
    vi.advanceTimersByTime(10 * QUIET_MS);
    expect(count.collections).toBe(2);
    c.stop();
  });

  it('leaves changes now and then to V8, counting them towards the next burst', () => {
    const { count, access } = counting();
    const c = new HeapCollector(access);
    for (let k = 0; k < BURST_COMMITS - 1; k++) {
      c.changed();
      vi.advanceTimersByTime(QUIET_MS);
    }
    expect(count.collections).toBe(0);
    c.changed();
    vi.advanceTimersByTime(QUIET_MS);
    expect(count.collections).toBe(1);
    // A whole rewrite's collection starts the count again.
    for (let k = 0; k < BURST_COMMITS - 1; k++) c.changed();
    c.collect();
    c.changed();
    vi.advanceTimersByTime(QUIET_MS);
    expect(count.collections).toBe(2);
    c.stop();
  });

  it('has V8 grow the heap slowly from the first whole rewrite on, just before collecting it', () => {
    const { count, slowed, access } = counting();
    const c = new HeapCollector(access);
    c.collect();
    for (let k = 0; k < BURST_COMMITS; k++) c.changed();
    vi.advanceTimersByTime(QUIET_MS);
    expect(slowed.times).toBe(0);
    c.rewritten();
    // Set before the collection, which then sets the next limit by it.
    expect(slowed).toEqual({ times: 1, collectionsBefore: 2 });
    expect(count.collections).toBe(3);
    c.rewritten();
    expect(slowed.times).toBe(1);
    c.stop();
  });

  it('does nothing without a gc, and nothing after stop', () => {
    let trims = 0, slowed = 0;
    const none = new HeapCollector({ gc: undefined, trim: () => void trims++, growSlowly: () => void slowed++ });
    none.collect();
    none.rewritten();
    for (let k = 0; k < BURST_COMMITS; k++) none.changed();
    expect(vi.getTimerCount()).toBe(0);
    expect(trims).toBe(0);
    expect(slowed).toBe(0);
    const { count, access } = counting();
    const c = new HeapCollector(access);
    for (let k = 0; k < BURST_COMMITS; k++) c.changed();
    c.stop();
    vi.advanceTimersByTime(QUIET_MS);
    expect(count.collections).toBe(0);
  });
});

describe('HeapCollector on real timers', () => {
  it('collects after every burst, not only the first', async () => {
    const { count, access } = counting();
    const c = new HeapCollector(access, 20);
    for (const burst of [1, 2]) {
      for (let k = 0; k < BURST_COMMITS; k++) c.changed();
      await sleep(150);
      expect(count.collections).toBe(burst);
    }
    c.stop();
  });
});

describe('the malloc addon', () => {
  it('is built beside the others and gives free pages back', () => {
    expect(typeof loadAddon<{ trim(): boolean }>('malloc').trim()).toBe('boolean');
  });
});
