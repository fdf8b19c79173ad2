// Set elements written as netlink (kernel/nftables/element-writer.ts) on a
// real kernel. Tables created in steps (new-tables.ts: nft for the skeleton
// and the hooks, netlink for hash-set elements) read back exactly as `nft -f`
// of the full script leaves them; an existing table is left alone; a failed
// step leaves the tables inert (no base chain). A plan's element changes,
// written as netlink, leave the kernel as its nft script does.
import { expect, it } from 'vitest';
import fc from 'fast-check';
import { requireKernel, netnsExec } from '../support/netns.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';
import { clusterArb } from '../support/arbitrary-cluster.js';
import { clusterFrom } from '../../src/cli/pipeline.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { plan, type ElementChange } from '../../src/backends/nftables/plan.js';
import { loadConfig } from '../../src/config/load.js';
import type { NftTable } from '../../src/backends/nftables/model.js';
import type { SourcedObject } from '../../src/state/build.js';

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
    // Elements come in groups, as contributions give them: here of 7, so groups straddle sets and datagrams.
    const sources = tables.map((t) => ({ family: t.family, sets: t.sets, chains: t.chains, *elementGroups() {
      for (let i = 0; i < t.elements.length; i += 7) yield t.elements.slice(i, i + 7);
    } }));
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

/** The same cluster with every endpoint at another address (host + 10). */
function movedEndpoints(objects: readonly SourcedObject[]): SourcedObject[] {
  return objects.map((o) => o.raw.kind !== 'EndpointSlice' ? o : {
    ...o,
    raw: JSON.parse(JSON.stringify(o.raw).replace(/(10\.244\.\d\.|fd00:244:\d::)(\d+)/g, (_, net: string, host: string) => `${net}${Number(host) + 10}`)) as Record<string, unknown>,
  });
}

/** Runs writeElementChanges inside `ns`; its result, or its error. */
async function writeIn(ns: string, changes: readonly ElementChange[]): Promise<{ transactions: number } | null | string> {
  const code = `
    import { writeElementChanges } from '${process.cwd()}/dist/kernel/nftables/element-writer.js';
    import { readFileSync } from 'node:fs';
    const r = await writeElementChanges(JSON.parse(readFileSync(0, 'utf8'))).then((a) => a ?? null, (e) => e.message);
    console.log(JSON.stringify(r));`;
  return JSON.parse(await netnsExec(ns, [process.execPath, '--input-type=module', '-e', code], JSON.stringify(changes))) as { transactions: number } | null | string;
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

e2e('set elements written as netlink', () => {
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

  it('a plan of element changes, written as netlink, leaves the kernel as its script does', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      let written = 0;
      // Half the draws move every endpoint to another address: the same chains, other elements.
      await fc.assert(fc.asyncProperty(clusterArb, clusterArb, fc.boolean(), async (a, other, move) => {
        const b = move ? movedEndpoints(a) : other;
        const [ta, tb] = [clusterFrom(a, cfg).tables, clusterFrom(b, cfg).tables];
        const p = plan(ta, tb);
        for (const ns of [x!, y!]) await netnsExec(ns, ['nft', '-f', '-'], renderTables(ta));
        if (p.elements) {
          const r = await writeIn(x!, p.elements);
          // Interval sets (firewall source ranges, ServiceCIDRs) are nft's to write.
          const byNft = p.elements.some((c) => c.decl.includes('interval'));
          if (byNft) expect(r).toBeNull();
          else {
            expect(r).toMatchObject({ transactions: p.elements.length > 0 ? 1 : 0 });
            written++;
          }
          if (r === null) await netnsExec(x!, ['nft', '-f', '-'], p.script);
        } else await netnsExec(x!, ['nft', '-f', '-'], p.script);
        await netnsExec(y!, ['nft', '-f', '-'], renderTables(tb));
        expect(await readTables(x!)).toBe(await readTables(y!));
      }), { numRuns: 40 });
      expect(written).toBeGreaterThan(5);
    });
  });

  it('a refused change (an element to delete is missing) commits none of its transaction', async () => {
    await withBareNamespaces(1, async ([x]) => {
      const table = largeTable(10);
      await netnsExec(x!, ['nft', '-f', '-'], renderTables([table]));
      const decl = table.sets.get('vips')!;
      const r = await writeIn(x!, [
        { verb: 'add', family: 'ip', set: 'vips', decl, elements: [['10.9.9.9 . tcp . 80', 'goto svc']] },
        { verb: 'delete', family: 'ip', set: 'vips', decl, elements: [['10.9.9.8 . tcp . 80', '']] },
      ]);
      expect(r).toMatch(/ENOENT/);
      expect(await netnsExec(x!, ['nft', 'list', 'map', 'ip', 'svcrouter', 'vips'])).not.toContain('10.9.9.9');
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
