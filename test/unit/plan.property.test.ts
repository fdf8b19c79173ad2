// Full = incremental, on the pure planner: render(A) then plan(A, B) leaves the
// (fake) kernel exactly as render(B) does, for any two clusters A and B.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildState } from '../../src/state/build.js';
import { desiredTables } from '../../src/backends/nftables/desired.js';
import { pushElements, renderTables } from '../../src/backends/nftables/render.js';
import { plan, planTables, type ElementChange } from '../../src/backends/nftables/plan.js';
import { elementText, TABLE } from '../../src/backends/nftables/model.js';
import { DEFAULT_CONFIG, type Config } from '../../src/config/config.js';
import { parseCIDR } from '../../src/state/addr.js';
import { FakeNft } from '../support/fake-nft.js';
import { clusterArb, feedDraw, toObjects, type ServiceSpec } from '../support/arbitrary-cluster.js';
import { IncrementalTables } from '../../src/backends/nftables/incremental.js';
import { PolicyTable } from '../../src/policy/port-policy.js';
import { StateTracker } from '../../src/state/tracker.js';
import type { SourcedObject } from '../../src/state/build.js';

const cfg: Config = { ...DEFAULT_CONFIG, hostname: 'node-a', clusterCIDRs: [parseCIDR('10.244.0.0/16')!, parseCIDR('fd00:244::/32')!] };

/** Element changes as nft commands. */
function elementsScript(changes: readonly ElementChange[]): string {
  const out: string[] = [];
  for (const c of changes) pushElements(out, c.verb, `${c.family} ${TABLE}`, c.set, c.elements.map(([k, v]) => (c.verb === 'add' ? elementText(k, v) : k)));
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

function tables(objects: SourcedObject[]) {
  const { state, issues } = buildState(objects, { nodeName: cfg.hostname });
  expect(issues).toEqual([]);
  return desiredTables(state, cfg);
}

describe('planner', () => {
  it('render(A) + plan(A, B) equals render(B)', () => {
    fc.assert(fc.property(clusterArb, clusterArb, (a, b) => {
      const ta = tables(a);
      const tb = tables(b);
      const incremental = new FakeNft();
      incremental.apply(renderTables(ta));
      incremental.apply(planTables(ta, tb));
      const full = new FakeNft();
      full.apply(renderTables(tb));
      expect(incremental.dump()).toBe(full.dump());
    }), { numRuns: 300 });
  });

  it('the agent\'s path (tracker, policy table, incremental tables) plans the same transitions, change by change', () => {
    // Each change goes as a plan, or folded into a periodic reassert (of everything, or of rules only).
    const step = fc.tuple(clusterArb, fc.constantFrom('plan', 'reassert', 'reassert-rules') as fc.Arbitrary<'plan' | 'reassert' | 'reassert-rules'>);
    fc.assert(fc.property(fc.array(step, { minLength: 2, maxLength: 6 }), (steps) => {
      const tracker = new StateTracker({ nodeName: cfg.hostname });
      const policies = new PolicyTable();
      const inc = new IncrementalTables();
      const kernel = new FakeNft();
      let previous: SourcedObject[] = [];
      steps.forEach(([objects, mode], i) => {
        feedDraw(tracker, previous, objects);
        previous = objects;
        const changes = tracker.takeChanges();
        const state = tracker.state();
        const plan = inc.update(state, cfg, policies.update(state, changes.ports), changes.base);
        const script = (lines: Iterable<string>) => [...lines].join('\n') + '\n';
        const whole = () => script(inc.script(() => policies.all(), 'replace'));
        kernel.apply(i === 0 ? whole() : mode === 'plan' ? plan.script : script(inc.reassert(plan, () => policies.all(), mode)));
        // A plan of element changes only says so, change by change, as its script does.
        if (plan.elements) expect(elementsScript(plan.elements)).toBe(plan.script);
        else expect(plan.script).toMatch(/^(add|delete|flush) (chain|rule|set|map) /m);
        const full = new FakeNft();
        full.apply(renderTables(tables(objects)));
        expect(kernel.dump()).toBe(full.dump());
        // The agent's own full render, from its lean store and the decisions, is the same table too.
        const rendered = new FakeNft();
        rendered.apply(whole());
        expect(rendered.dump()).toBe(full.dump());
      });
    }), { numRuns: 200 });
  });

  // Each element of a verdict map is a jump the kernel checks again whenever a chain or a jump is added.
  it('declares no verdict map: every per-service jump is a rule matching a set', () => {
    fc.assert(fc.property(clusterArb, (objects) => {
      for (const t of tables(objects)) for (const [name, decl] of t.sets) expect(`${name}: ${decl}`).not.toMatch(/: verdict/);
    }), { numRuns: 50 });
  });

  // Re-pointing a verdict makes the kernel check every jump of the table again.
  it.each([0, 10800] as const)('an endpoint count change between counts already served moves set elements, and changes no verdict (affinity %i)', (affinity) => {
    const spec = (id: number, hosts: number[]): ServiceSpec => ({
      id, type: 'LoadBalancer', dual: true, etpLocal: true, itpLocal: false, affinity, udp: false, externalIP: true,
      sourceRanges: false, proxyMode: false, twoPorts: false,
      endpoints: hosts.map((host) => ({ host, node: 'node-a', state: 'ready', zone: undefined })),
    });
    // Each uses all four kinds of load-balancing chain (ETP Local); svc1 and svc2 keep both counts served.
    const before = tables(toObjects([spec(0, [1, 2]), spec(1, [1, 2]), spec(2, [3, 4, 5])]));
    const after = tables(toObjects([spec(0, [1, 2, 6]), spec(1, [1, 2]), spec(2, [3, 4, 5])]));
    const p = plan(before, after);
    expect(p.elements).toBeDefined();
    const moved = new Set(p.elements!.map((c) => `${c.verb} ${c.set}`));
    for (const kind of ['vip', 'vipsc', 'np', 'npsc']) {
      const group = (n: number) => (affinity ? `${kind}-affinity-${affinity}-${n}` : `${kind}-${n}`);
      expect(moved).toContain(`delete ${group(2)}-frontends`);
      expect(moved).toContain(`add ${group(3)}-frontends`);
    }
    // Only the load-balancing chains' own sets change (and the new endpoint's hairpin pair): the frontend stays in the lookup that leads to its dispatch chain.
    expect(p.elements!.filter((c) => !/-(frontends|backends)$|^hairpin$/.test(c.set))).toEqual([]);
  });

  it('plans nothing between equal states', () => {
    fc.assert(fc.property(clusterArb, (a) => {
      expect(planTables(tables(a), tables(a))).toBe('');
    }), { numRuns: 100 });
  });

  it('renders byte-identical output for the same input', () => {
    fc.assert(fc.property(clusterArb, (a) => {
      expect(renderTables(tables(a))).toBe(renderTables(tables([...a])));
    }), { numRuns: 50 });
  });
});
