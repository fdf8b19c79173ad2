// The sync scheduler: coalescing, the min sync period, one run at a time, retry with backoff.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncScheduler } from '../../src/agent/scheduler.js';

// Fake timers: the scheduler's timing is checked exactly, whatever the machine's load.
beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }); });
afterEach(() => { vi.useRealTimers(); });
const sleep = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const work = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function recorder(results: boolean[] = []) {
  const starts: number[] = [];
  let active = 0;
  let maxActive = 0;
  const run = async () => {
    starts.push(Date.now());
    active++;
    maxActive = Math.max(maxActive, active);
    await work(20);
    active--;
    return results.shift() ?? true;
  };
  return { starts, run, maxActive: () => maxActive };
}

describe('SyncScheduler', () => {
  it('coalesces a burst of changes into few syncs, one at a time', async () => {
    const r = recorder();
    const s = new SyncScheduler({ minIntervalMs: 0, burst: 2, retryMs: { initial: 10, max: 100 }, run: r.run });
    for (let i = 0; i < 50; i++) s.request();
    await sleep(10);
    for (let i = 0; i < 50; i++) s.request();
    await sleep(100);
    await s.stop();
    expect(r.starts.length).toBe(2);
    expect(r.maxActive()).toBe(1);
  });

  it('with a burst of 1, starts syncs at least the min sync period apart', async () => {
    const r = recorder();
    const s = new SyncScheduler({ minIntervalMs: 150, burst: 1, retryMs: { initial: 10, max: 100 }, run: r.run });
    s.request();
    await sleep(40);
    s.request();
    await sleep(300);
    await s.stop();
    expect(r.starts).toHaveLength(2);
    expect(r.starts[1]! - r.starts[0]!).toBe(150);
  });

  it('with kube-proxy\'s burst of 2, two syncs may run back to back, then one per period', async () => {
    const r = recorder();
    const s = new SyncScheduler({ minIntervalMs: 150, burst: 2, retryMs: { initial: 10, max: 100 }, run: r.run });
    s.request();
    await sleep(40);
    s.request(); // a lone change right after a sync: not held back
    await sleep(40);
    for (let i = 0; i < 20; i++) { s.request(); await sleep(10); } // then a stream: batched by the period
    await sleep(600);
    await s.stop();
    expect(r.starts[1]! - r.starts[0]!).toBe(40);
    // The bucket is empty now: at most one more sync per period (the third waits for the token accrued since the first).
    expect(r.starts.length).toBeGreaterThan(3);
    expect(r.starts[2]! - r.starts[0]!).toBe(150);
    for (let i = 3; i < r.starts.length; i++) expect(r.starts[i]! - r.starts[i - 1]!).toBe(150);
  });

  it('with a period of 0, a change after a sync runs at once', async () => {
    const r = recorder();
    const s = new SyncScheduler({ minIntervalMs: 0, burst: 2, retryMs: { initial: 10, max: 100 }, run: r.run });
    s.request();
    await sleep(60);
    const t = Date.now();
    s.request();
    await sleep(60);
    await s.stop();
    expect(r.starts).toHaveLength(2);
    expect(r.starts[1]! - t).toBe(0);
  });

  it('retries a failed sync with growing delays until it succeeds', async () => {
    const r = recorder([false, false, false, true]);
    const s = new SyncScheduler({ minIntervalMs: 0, burst: 2, retryMs: { initial: 30, max: 1000 }, run: r.run });
    s.request();
    await sleep(600);
    await s.stop();
    expect(r.starts).toHaveLength(4);
    const gaps = r.starts.slice(1).map((t, i) => t - r.starts[i]!);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
  });

  it('a sync that throws counts as failed and is retried', async () => {
    let calls = 0;
    const s = new SyncScheduler({ minIntervalMs: 0, burst: 2, retryMs: { initial: 30, max: 100 }, run: async () => { calls++; if (calls === 1) throw new Error('boom'); return true; } });
    s.request();
    await sleep(100);
    await s.stop();
    expect(calls).toBe(2);
  });

  it('runs nothing after stop', async () => {
    const r = recorder();
    const s = new SyncScheduler({ minIntervalMs: 0, burst: 2, retryMs: { initial: 10, max: 100 }, run: r.run });
    await s.stop();
    s.request();
    await sleep(50);
    expect(r.starts).toHaveLength(0);
  });
});
