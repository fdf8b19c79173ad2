// kube-proxy's CategorizeEndpoints, case by case (cases follow its own table), and the hairpin decision.
import { describe, expect, it } from 'vitest';
import { categorizeEndpoints } from '../../src/policy/categorize.js';
import { decidePort, PolicyTable } from '../../src/policy/port-policy.js';
import type { Endpoint, NodeInfo, ServicePort } from '../../src/state/types.js';

const node: NodeInfo = { name: 'node-a', ips: { ipv4: ['192.168.50.1'], ipv6: [] }, addresses: { ipv4: ['192.168.50.1'], ipv6: [] }, zone: 'z1', podCIDRs: [] };

function sp(over: Partial<ServicePort> = {}): ServicePort {
  return {
    id: 'ns/s:p/tcp', namespace: 'ns', name: 's', portName: 'p', family: 'ipv4', protocol: 'tcp', port: 80,
    clusterIP: '10.96.0.1', nodePort: 0, externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [],
    externalPolicyLocal: false, internalPolicyLocal: false, affinityTimeout: 0, healthCheckNodePort: 0, ...over,
  };
}

type Flags = 'ready' | 'term' | 'term-not-serving' | 'not-ready';
function ep(ip: string, state: Flags, local = false, hints: { zones?: string[]; nodes?: string[] } = {}): Endpoint {
  return {
    ip, port: 80, isLocal: local, isRemote: !local,
    ready: state === 'ready', serving: state === 'ready' || state === 'term', terminating: state === 'term' || state === 'term-not-serving',
    zoneHints: hints.zones ?? [], nodeHints: hints.nodes ?? [],
  };
}
const ips = (es: readonly Endpoint[]) => es.map((e) => e.ip);

describe('categorizeEndpoints', () => {
  const cases: { name: string; sp: ServicePort; eps: Endpoint[]; cluster: string[]; local: string[]; hasAny: boolean }[] = [
    { name: 'cluster policy: ready endpoints only', sp: sp(),
      eps: [ep('10.0.0.1', 'ready'), ep('10.0.0.2', 'term'), ep('10.0.0.3', 'not-ready')], cluster: ['10.0.0.1'], local: [], hasAny: true },
    { name: 'no ready anywhere: serving-terminating fallback', sp: sp(),
      eps: [ep('10.0.0.2', 'term'), ep('10.0.0.3', 'term-not-serving'), ep('10.0.0.4', 'not-ready')], cluster: ['10.0.0.2'], local: [], hasAny: true },
    { name: 'nothing usable', sp: sp(), eps: [ep('10.0.0.3', 'term-not-serving'), ep('10.0.0.4', 'not-ready')], cluster: [], local: [], hasAny: false },
    { name: 'iTP Local: local ready', sp: sp({ internalPolicyLocal: true }),
      eps: [ep('10.0.0.1', 'ready', true), ep('10.0.0.2', 'ready'), ep('10.0.0.3', 'term', true)], cluster: [], local: ['10.0.0.1'], hasAny: true },
    { name: 'iTP Local: local serving-terminating fallback', sp: sp({ internalPolicyLocal: true }),
      eps: [ep('10.0.0.2', 'ready'), ep('10.0.0.3', 'term', true)], cluster: [], local: ['10.0.0.3'], hasAny: true },
    { name: 'iTP Local: only remote endpoints still counts as having endpoints', sp: sp({ internalPolicyLocal: true }),
      eps: [ep('10.0.0.2', 'term')], cluster: [], local: [], hasAny: true },
    { name: 'eTP Local with NodePort: both sets', sp: sp({ externalPolicyLocal: true, nodePort: 30001 }),
      eps: [ep('10.0.0.1', 'ready', true), ep('10.0.0.2', 'ready')], cluster: ['10.0.0.1', '10.0.0.2'], local: ['10.0.0.1'], hasAny: true },
    { name: 'zone hints for our zone', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', false, { zones: ['z1'] }), ep('10.0.0.2', 'ready', false, { zones: ['z2'] })], cluster: ['10.0.0.1'], local: [], hasAny: true },
    { name: 'zone hints, none for our zone: ignored', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', false, { zones: ['z2'] }), ep('10.0.0.2', 'ready', false, { zones: ['z2'] })], cluster: ['10.0.0.1', '10.0.0.2'], local: [], hasAny: true },
    { name: 'zone hints on some endpoints only: ignored', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', false, { zones: ['z1'] }), ep('10.0.0.2', 'ready')], cluster: ['10.0.0.1', '10.0.0.2'], local: [], hasAny: true },
    { name: 'node hints win over zone hints', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', true, { zones: ['z1'], nodes: ['node-a'] }), ep('10.0.0.2', 'ready', false, { zones: ['z1'], nodes: ['node-b'] })], cluster: ['10.0.0.1'], local: [], hasAny: true },
    { name: 'node hints, none for us: fall to zone hints', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', false, { zones: ['z1'], nodes: ['node-c'] }), ep('10.0.0.2', 'ready', false, { zones: ['z2'], nodes: ['node-b'] })], cluster: ['10.0.0.1'], local: [], hasAny: true },
    { name: 'topology ignores not-ready endpoints', sp: sp(),
      eps: [ep('10.0.0.1', 'ready', false, { zones: ['z1'] }), ep('10.0.0.2', 'not-ready')], cluster: ['10.0.0.1'], local: [], hasAny: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = categorizeEndpoints(c.eps, c.sp, node);
      expect({ cluster: ips(r.cluster), local: ips(r.local), hasAny: r.hasAny }).toEqual({ cluster: c.cluster, local: c.local, hasAny: c.hasAny });
    });
  }
});

describe('hairpin: whose own connections can come back to them through this node', () => {
  const unknownNode = (ip: string): Endpoint => ({ ...ep(ip, 'ready'), isRemote: false });
  it('this node\'s endpoints, and those whose node is not given; not another node\'s', () => {
    const p = decidePort(sp(), [ep('10.0.0.1', 'ready', true), ep('10.0.0.2', 'ready'), unknownNode('10.0.0.3')], node);
    expect(p.hairpin).toEqual(['10.0.0.1', '10.0.0.3']);
  });
  it('with ETP Local, every endpoint pods are short-circuited to (pods of other nodes can send here)', () => {
    const p = decidePort(sp({ nodePort: 30001, externalPolicyLocal: true }), [ep('10.0.0.1', 'ready', true), ep('10.0.0.2', 'ready')], node);
    expect([...p.hairpin].sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    const cluster = decidePort(sp({ nodePort: 30001 }), [ep('10.0.0.1', 'ready', true), ep('10.0.0.2', 'ready')], node);
    expect(cluster.hairpin).toEqual(['10.0.0.1']);
  });
});

describe('PolicyTable', () => {
  it('decides the ports named, and keeps what the agent reports as ports come and go', () => {
    const lb = sp({ id: 'ns/lb:p/tcp', nodePort: 30001, loadBalancerIPs: ['198.51.100.1'], externalPolicyLocal: true, healthCheckNodePort: 32000 });
    const local = sp({ id: 'ns/itp:p/tcp', internalPolicyLocal: true });
    const servicePorts = new Map([[lb.id, lb], [local.id, local]]);
    const endpoints = new Map([[lb.id, [ep('10.0.0.2', 'ready')]], [local.id, [ep('10.0.0.3', 'ready')]]]);
    const table = new PolicyTable();
    const changes = table.update({ node, servicePorts, endpoints, serviceCIDRs: [] }, [lb.id, local.id]);
    expect(changes.map((c) => [c.id, c.before, c.after?.sp.id])).toEqual([[lb.id, undefined, lb.id], [local.id, undefined, local.id]]);
    expect([...table.withHealthCheck()].map((p) => p.sp.id)).toEqual([lb.id]);
    expect(table.noLocalEndpoints()).toEqual({ internal: 1, external: 1 }); // both have only remote endpoints
    servicePorts.delete(lb.id);
    endpoints.set(local.id, [ep('10.0.0.3', 'ready', true)]);
    table.update({ node, servicePorts, endpoints, serviceCIDRs: [] }, [lb.id, local.id]);
    expect([...table.withHealthCheck()]).toEqual([]);
    expect(table.noLocalEndpoints()).toEqual({ internal: 0, external: 0 });
    expect(table.size).toBe(1);
  });
});
