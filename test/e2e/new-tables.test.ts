// kernel/nftables/new-tables.ts on a real kernel: tables created in steps (nft
// for the skeleton and the hooks, netlink for hash-set elements) read back
// exactly as `nft -f` of the full script leaves them; an existing table is
// left alone; a failed step leaves the tables inert (no base chain).
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { requireKernel, netnsExec } from '../support/netns.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';
import { clusterArb } from '../support/arbitrary-cluster.js';
import { clusterFrom } from '../../src/cli/pipeline.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { loadConfig } from '../../src/config/load.js';
import type { NftTable } from '../../src/backends/nftables/model.js';

const e2e = requireKernel();
const cfg = loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16,fd00:244::/32' });

interface Outcome {
  /** createTables' result each time it is called, or its error. */
  readonly results: ({ bytes: number; operations: number; transactions: number } | null | string)[];
  /** The ruleset generation before and after each call. */
  readonly generations: [number, number][];
}

/** Runs createTables on `tables` inside `ns`, `times` times in a row. */
async function createIn(ns: string, tables: readonly NftTable[], times = 1): Promise<Outcome> {
  const code = `
    import { createTables } from '${process.cwd()}/dist/kernel/nftables/new-tables.js';
    import { NftInspector } from '${process.cwd()}/dist/kernel/nftables/inspector.js';
    import { readFileSync } from 'node:fs';
    const tables = JSON.parse(readFileSync(0, 'utf8'));
    const sources = tables.map((t) => ({ family: t.family, sets: t.sets, chains: t.chains, elements: () => t.elements }));
    const inspector = NftInspector.open();
    const results = [], generations = [];
    for (let i = 0; i < ${times}; i++) {
      const before = await inspector.generation();
      results.push(await createTables(sources).then((a) => a ?? null, (e) => e.message));
      generations.push([before, await inspector.generation()]);
    }
    await inspector.close();
    console.log(JSON.stringify({ results, generations }));`;
  const wire = tables.map((t) => ({
    family: t.family, sets: [...t.sets], chains: [...t.chains],
    elements: [...t.elements].flatMap(([set, elems]) => [...elems].map(([k, v]) => [set, k, v])),
  }));
  return JSON.parse(await netnsExec(ns, [process.execPath, '--input-type=module', '-e', code], JSON.stringify(wire))) as Outcome;
}

const hooks = async (ns: string) => (await netnsExec(ns, ['nft', 'list', 'chains'])).split('\n').filter((l) => l.includes(' hook ')).length;

/** An IPv4 table with a map large enough for many transactions, an interval set, and a base chain using both. */
function largeTable(entries: number, badHook = false): NftTable {
  const keys = Array.from({ length: entries }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} . tcp . ${1 + (i % 60000)}`);
  return {
    family: 'ip',
    sets: new Map([['vips', 'type ipv4_addr . inet_proto . inet_service : verdict ;'], ['cidrs', 'type ipv4_addr ; flags interval ;']]),
    chains: new Map([
      ['svc', { rules: ['counter'] }],
      ['entry', { base: 'type nat hook prerouting priority -100 ; policy accept ;', rules: ['ip daddr @cidrs ip daddr . meta l4proto . th dport vmap @vips', ...(badHook ? ['jump nosuch'] : [])] }],
    ]),
    elements: new Map([
      ['vips', new Map(keys.map((k, i) => [k, i % 3 === 0 ? `goto svc\tsvc-${i}` : 'goto svc']))],
      ['cidrs', new Map([['10.0.0.0/8', ''], ['192.168.0.0/16', '']])],
    ]),
  };
}

/** A small IPv6 table beside it: readTables reads both families. */
const ip6Table: NftTable = {
  family: 'ip6',
  sets: new Map([['ips', 'type ipv6_addr ;']]),
  chains: new Map([['entry', { base: 'type filter hook input priority 0 ; policy accept ;', rules: ['ip6 daddr @ips counter'] }]]),
  elements: new Map([['ips', new Map([['fd00::1', ''], ['fd00::2', '']])]]),
};

e2e('new tables created in steps', () => {
  it('read back exactly as nft -f of the whole script, for random clusters', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      await fc.assert(fc.asyncProperty(clusterArb, async (objects) => {
        const tables = clusterFrom(objects, cfg).tables;
        for (const ns of [x!, y!]) await netnsExec(ns, ['nft', 'flush', 'ruleset']);
        const { results, generations } = await createIn(x!, tables);
        expect(results[0]).toMatchObject({ transactions: generations[0]![1] - generations[0]![0] });
        await netnsExec(y!, ['nft', '-f', '-'], renderTables(tables));
        expect(await readTables(x!)).toBe(await readTables(y!));
      }), { numRuns: 15 });
    });
  });

  it('sends many transactions for a large table, and leaves an existing one alone', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      const tables = [largeTable(30_000), ip6Table];
      const { results, generations } = await createIn(x!, tables, 2);
      const first = results[0] as { transactions: number; operations: number };
      expect(first.transactions).toBeGreaterThan(10); // netlink datagrams of 64 KiB
      expect(first.transactions).toBe(generations[0]![1] - generations[0]![0]);
      expect(results[1]).toBeNull(); // the table exists: nothing done
      expect(generations[1]![1]).toBe(generations[1]![0]);
      await netnsExec(y!, ['nft', '-f', '-'], renderTables(tables));
      expect(await readTables(x!)).toBe(await readTables(y!));
      expect(await hooks(x!)).toBe(2);
    });
  });

  it('leaves the tables inert when a step fails', async () => {
    await withBareNamespaces(1, async ([x]) => {
      const { results } = await createIn(x!, [largeTable(5_000, true)]);
      expect(results[0]).toMatch(/No such file or directory/); // nft names the wrong command of the batch
      expect(await hooks(x!)).toBe(0);
      expect((await netnsExec(x!, ['nft', 'list', 'map', 'ip', 'svcrouter', 'vips'])).split('goto svc').length - 1).toBe(5_000);
    });
  });
});
