// The tamper watch's account of the kernel, against a scripted ruleset
// generation: when a periodic resync may skip writing (the kernel exactly as
// our own last commit left it, nobody else having committed since).
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { TamperWatch } from '../../src/agent/tamper-watch.js';
import type { NftInspector } from '../../src/kernel/nftables/inspector.js';
import type { SyncMode } from '../../src/agent/data-plane.js';

/** A kernel whose generation moves with each committed transaction, ours or anyone's. */
function kernel() {
  const k = { generation: 10, unreadable: false };
  const generation = async () => {
    if (k.unreadable) throw new Error('netlink: EPERM');
    return k.generation;
  };
  const inspector = { generation, shape: async () => undefined } as unknown as NftInspector;
  const watch = new TamperWatch(inspector, 'svcrouter', pino({ level: 'silent' }), () => undefined);
  /** One commit of ours, of `transactions` transactions; `meanwhile` runs as it commits (someone else's too). */
  const commit = (mode: SyncMode, transactions = 1, meanwhile = () => {}) =>
    watch.around(mode, async () => {
      k.generation += transactions;
      meanwhile();
      return transactions;
    }, (n) => n);
  return { k, watch, commit };
}

describe('tamper watch: an untouched kernel', () => {
  it('is known from a whole rewrite of ours, and kept by our changes after it', async () => {
    const { watch, commit } = kernel();
    expect(await watch.untouched()).toBe(false); // nothing committed yet
    await commit('replace', 3); // tables created in steps
    expect(await watch.untouched()).toBe(true);
    await commit('plan');
    await commit('plan', 0); // a sync with nothing to write
    expect(await watch.untouched()).toBe(true);
  });

  it('is lost once anyone else commits, and our changes after that do not restore it: a reassert or a replace does', async () => {
    const { k, watch, commit } = kernel();
    await commit('replace');
    k.generation++; // another table, or ours: the generation cannot tell
    expect(await watch.untouched()).toBe(false);
    await commit('plan');
    expect(await watch.untouched()).toBe(false);
    await commit('reassert');
    expect(await watch.untouched()).toBe(true);
    k.generation++;
    await commit('replace');
    expect(await watch.untouched()).toBe(true);
  });

  it('is not claimed when the generation cannot be read', async () => {
    const { k, watch, commit } = kernel();
    await commit('replace');
    k.unreadable = true;
    expect(await watch.untouched()).toBe(false);
    k.unreadable = false;
    expect(await watch.untouched()).toBe(true);
  });

  it('is lost when someone commits while ours does, or when a commit fails', async () => {
    const { k, watch, commit } = kernel();
    await commit('reassert', 1, () => k.generation++);
    expect(await watch.untouched()).toBe(false);
    await commit('replace');
    await expect(watch.around('plan', async () => { throw new Error('refused'); }, () => 1)).rejects.toThrow('refused');
    watch.forget(); // the plane's failed()
    expect(await watch.untouched()).toBe(false);
  });
});
