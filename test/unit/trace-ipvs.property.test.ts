// trace in IPVS mode against the plan `dump --proxy-mode ipvs --ipvsadm`
// prints, on random clusters, configurations and flows: the virtual server a
// DNAT names is in the plan, with the trace's endpoints as its real servers,
// and a virtual server the plan has for a flow's destination is never missed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideCluster, traceDecided } from '../../src/cli/pipeline.js';
import { loadConfig } from '../../src/config/load.js';
import { desiredIpvs } from '../../src/backends/ipvs/desired.js';
import { formatIpvsadm } from '../../src/backends/ipvs/ipvsadm.js';
import { hostPort, parseFlow } from '../../src/trace/flow.js';
import type { Family, Protocol, ProxyState } from '../../src/state/types.js';
import { clusterArb } from '../support/arbitrary-cluster.js';

// The arbitrary clusters' node is 192.168.50.1 or .2 (fd00:50::1 or ::2); their pods 10.244.{1,2}.1-6, on node-a or node-b.
const SOURCES = {
  ipv4: [{ from: '10.244.1.50' }, { from: '10.244.1.3' }, { from: '10.244.2.50' }, { from: '192.0.2.7' }, { from: '10.1.2.3' },
    { from: '192.168.50.9' }, { from: '192.168.50.1' }, { from: '192.168.50.1', fromNode: true }],
  ipv6: [{ from: 'fd00:244:1::50' }, { from: 'fd00:244:1::3' }, { from: '2001:db8::7' }, { from: 'fd00:50::1', fromNode: true }],
};
const NODE_ADDRESSES = { ipv4: ['192.168.50.1', '192.168.50.2', '192.168.60.1'], ipv6: ['fd00:50::1', 'fd00:50::2', 'fe80::1'] };

interface Destination { family: Family; to: string; protocol: Protocol }

/** Every address and port the cluster answers on, near misses too (another port, another address). */
function destinations(state: ProxyState): Destination[] {
  const out: Destination[] = [
    { family: 'ipv4', to: '10.96.0.99:80', protocol: 'tcp' }, { family: 'ipv6', to: '[fd00:96::99]:80', protocol: 'udp' },
    ...[10, 11, 12].map((i): Destination => ({ family: 'ipv4', to: `198.51.100.${i}:80`, protocol: 'tcp' })),
  ];
  for (const sp of state.servicePorts.values()) {
    const at = (ip: string, port: number, protocol = sp.protocol) => out.push({ family: sp.family, to: hostPort(ip, port), protocol });
    for (const ip of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs]) at(ip, sp.port);
    if (sp.nodePort) for (const ip of NODE_ADDRESSES[sp.family]) at(ip, sp.nodePort);
    at(sp.clusterIP, 82);
    at(sp.clusterIP, sp.port, sp.protocol === 'tcp' ? 'udp' : 'tcp');
  }
  return out;
}

const configArb = fc.record({
  ipvsScheduler: fc.constantFrom('rr', 'mh', 'wlc'),
  nodeportAddresses: fc.constantFrom(undefined, 'primary', '192.168.50.0/24,fd00:50::/64', '192.168.60.0/24'),
  masqueradeAll: fc.boolean(),
  nodeAddresses: fc.constantFrom(undefined, ['192.168.50.1', '192.168.60.1', 'fd00:50::1', 'fe80::1', '127.0.0.1']),
});

interface Server { scheduler: string; persistence: number; reals: Set<string> }

/** `--ipvsadm` output by service argument: -A lines' scheduler and persistence, -a lines' real servers of weight > 0. */
function parseIpvsadm(text: string): Map<string, Server> {
  const out = new Map<string, Server>();
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const a = /^-A (.+?) -s (\S+)(?: -b \S+)?(?: -p (\d+))?$/.exec(line);
    if (a) {
      out.set(a[1]!, { scheduler: a[2]!, persistence: Number(a[3] ?? 0), reals: new Set() });
      continue;
    }
    const r = /^-a (.+?) -r (\S+) -m -w (\d+)$/.exec(line);
    expect(r, line).not.toBeNull();
    if (Number(r![3]) > 0) out.get(r![1]!)!.reals.add(r![2]!);
  }
  return out;
}

describe('trace in IPVS mode', () => {
  it('names the plan\'s virtual server for every DNAT, with its real servers as endpoints, and misses none', () => {
    const picks = fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 20 });
    fc.assert(fc.property(clusterArb, configArb, picks, (objects, c, chosen) => {
      const { nodeAddresses, ...flags } = c;
      const cfg = loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16,fd00:244::/32', proxyMode: 'ipvs', ...flags });
      const decided = decideCluster(objects, cfg);
      expect(decided.build.issues).toEqual([]);
      const { state } = decided.build;
      const host = nodeAddresses
        ? { ipv4: nodeAddresses.filter((a) => !a.includes(':')), ipv6: nodeAddresses.filter((a) => a.includes(':')) }
        : state.node.addresses;
      const plan = parseIpvsadm(formatIpvsadm(desiredIpvs(state, cfg, host, decided.policies).virtualServers));
      const dsts = destinations(state);
      for (const [d, src] of chosen) {
        const dst = dsts[d % dsts.length]!;
        const args = { ...SOURCES[dst.family][src % SOURCES[dst.family].length]!, to: dst.to, protocol: dst.protocol };
        const flow = parseFlow(args);
        const t = traceDecided(decided, flow, nodeAddresses);
        const about = JSON.stringify({ flow: args, trace: t });
        expect(t.ipvs !== null, about).toBe(t.verdict === 'dnat');
        const byAddress = `${flow.protocol === 'tcp' ? '-t' : '-u'} ${hostPort(flow.dst, flow.dport)}`;
        if (t.ipvs) {
          const vs = plan.get(t.ipvs.virtualServer);
          expect(vs, about).toBeDefined();
          expect({ scheduler: t.ipvs.scheduler, persistence: t.ipvs.persistence }, about).toEqual({ scheduler: vs!.scheduler, persistence: vs!.persistence });
          expect(new Set(t.endpoints), about).toEqual(vs!.reals);
          expect(t.ipvs.persistence, about).toBe(t.affinity);
          if (!/^-f \d+( -6)?$/.test(t.ipvs.virtualServer)) expect(t.ipvs.virtualServer, about).toBe(byAddress);
        }
        // A virtual server with real servers at the destination takes the packet, unless the source ranges drop it first.
        if ((plan.get(byAddress)?.reals.size ?? 0) > 0 && !/loadBalancerSourceRanges/.test(t.reason)) {
          expect(t.verdict, about).toBe('dnat');
        }
      }
    }), { numRuns: 300 });
  });
});
