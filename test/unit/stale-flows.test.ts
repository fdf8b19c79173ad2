// Which UDP conntrack entries a change makes stale (kube-proxy's rule); which
// entries were made while the rules were missing; how the tool's lines read.
import { describe, expect, it } from 'vitest';
import { buildState } from '../../src/state/build.js';
import { decideAll } from '../../src/policy/port-policy.js';
import { staleUdpFlows as fromChanges, unNattedFlows, type TrackedFlow } from '../../src/policy/stale-flows.js';
import { parseFlows } from '../../src/kernel/conntrack.js';
import type { PortPolicy } from '../../src/policy/port-policy.js';
import { service, slice, node } from '../support/manifests.js';

function policies(protocol: 'UDP' | 'TCP', eps: string[], extra: Record<string, unknown> = {}) {
  const objects = [
    node('node-a', ['192.168.50.1'], 'z1', ['10.244.1.0/24']),
    service('dns', { type: 'NodePort', clusterIP: '10.96.0.10', externalIPs: ['203.0.113.9'], ports: [{ name: 'dns', protocol, port: 53, nodePort: 30053 }], ...extra }),
    slice('dns', 'IPv4', [{ name: 'dns', protocol, port: 5353 }], eps.map((ip) => ({ ip, node: 'node-a' }))),
  ].map((raw, i) => ({ source: `t#${i}`, raw }));
  return decideAll(buildState(objects, { nodeName: 'node-a' }).state);
}

/** The changes from one full list of decisions to another, paired by port. */
function staleUdpFlows(prev: PortPolicy[], next: PortPolicy[]) {
  const ids = new Set([...prev, ...next].map((p) => p.sp.id));
  return fromChanges([...ids].map((id) => ({ before: prev.find((p) => p.sp.id === id), after: next.find((p) => p.sp.id === id) })));
}

describe('staleUdpFlows', () => {
  it('an endpoint that goes away: its flows to every frontend', () => {
    expect(staleUdpFlows(policies('UDP', ['10.244.1.5', '10.244.1.6']), policies('UDP', ['10.244.1.6']))).toEqual([
      { family: 'ipv4', origDst: '10.96.0.10', origDport: 53, replySrc: '10.244.1.5' },
      { family: 'ipv4', origDst: '203.0.113.9', origDport: 53, replySrc: '10.244.1.5' },
      { family: 'ipv4', origDport: 30053, replySrc: '10.244.1.5' },
    ]);
  });
  it('a service that gets its first endpoint: every flow to it (they were rejected)', () => {
    expect(staleUdpFlows(policies('UDP', []), policies('UDP', ['10.244.1.5']))).toEqual([
      { family: 'ipv4', origDst: '10.96.0.10', origDport: 53 },
      { family: 'ipv4', origDst: '203.0.113.9', origDport: 53 },
      { family: 'ipv4', origDport: 30053 },
    ]);
  });
  it('a deleted service: flows to all its endpoints', () => {
    expect(staleUdpFlows(policies('UDP', ['10.244.1.5']), [])).toHaveLength(3);
  });
  it('nothing when only topology or traffic policy moves traffic off a still-serving endpoint', () => {
    expect(staleUdpFlows(policies('UDP', ['10.244.1.5', '10.244.1.6']), policies('UDP', ['10.244.1.5', '10.244.1.6'], { internalTrafficPolicy: 'Local' }))).toEqual([]);
  });

  it('nothing for an unchanged service', () => {
    expect(staleUdpFlows(policies('UDP', ['10.244.1.5']), policies('UDP', ['10.244.1.5']))).toEqual([]);
  });

  it('nothing for TCP, nothing for an unchanged or growing service', () => {
    expect(staleUdpFlows(policies('TCP', ['10.244.1.5']), policies('TCP', []))).toEqual([]);
    expect(staleUdpFlows(policies('UDP', ['10.244.1.5']), policies('UDP', ['10.244.1.5', '10.244.1.6']))).toEqual([]);
  });
});

describe('unNattedFlows', () => {
  const flow = (protocol: 'tcp' | 'udp', origDst: string, origDport: number, replySrc: string): TrackedFlow => ({ family: 'ipv4', protocol, origDst, origDport, replySrc });

  it('a frontend with an entry never DNATed, once however many such entries it has', () => {
    const entries = [flow('udp', '10.96.0.10', 53, '10.96.0.10'), flow('udp', '10.96.0.10', 53, '10.96.0.10'), flow('udp', '203.0.113.9', 53, '203.0.113.9')];
    expect(unNattedFlows(entries, policies('UDP', ['10.244.1.5']))).toEqual([
      { family: 'ipv4', protocol: 'udp', origDst: '10.96.0.10', origDport: 53 },
      { family: 'ipv4', protocol: 'udp', origDst: '203.0.113.9', origDport: 53 },
    ]);
    expect(unNattedFlows([flow('tcp', '10.96.0.10', 53, '10.96.0.10')], policies('TCP', []))).toEqual([
      { family: 'ipv4', protocol: 'tcp', origDst: '10.96.0.10', origDport: 53 },
    ]);
  });

  it('never an entry that was DNATed, one to another port or protocol, to a NodePort or to an address that is no frontend', () => {
    const entries = [
      flow('udp', '10.96.0.10', 53, '10.244.1.5'), // DNATed: a live flow
      flow('udp', '10.96.0.10', 54, '10.96.0.10'),
      flow('tcp', '10.96.0.10', 53, '10.96.0.10'),
      flow('udp', '192.168.50.1', 30053, '192.168.50.1'), // the node's own address
      flow('udp', '10.96.0.99', 53, '10.96.0.99'),
    ];
    expect(unNattedFlows(entries, policies('UDP', ['10.244.1.5']))).toEqual([]);
  });
});

describe('parseFlows', () => {
  it('reads the original destination and port and the reply source of each line', () => {
    const text = [
      'tcp      6 96 SYN_SENT src=10.244.1.100 dst=10.96.0.80 sport=43828 dport=80 [UNREPLIED] src=10.96.0.80 dst=10.244.1.100 sport=80 dport=43828 mark=0 use=1',
      'tcp      6 119 SYN_SENT src=10.244.1.100 dst=10.96.0.80 sport=40125 dport=80 [UNREPLIED] src=10.244.1.11 dst=10.244.1.100 sport=8080 dport=40125 mark=0 use=1',
      '',
    ].join('\n');
    expect(parseFlows(text, 'ipv4', 'tcp')).toEqual([
      { family: 'ipv4', protocol: 'tcp', origDst: '10.96.0.80', origDport: 80, replySrc: '10.96.0.80' },
      { family: 'ipv4', protocol: 'tcp', origDst: '10.96.0.80', origDport: 80, replySrc: '10.244.1.11' },
    ]);
    expect(parseFlows('udp      17 29 src=fd00:244:1::100 dst=fd00:96::a sport=5353 dport=53 [UNREPLIED] src=fd00:96::a dst=fd00:244:1::100 sport=53 dport=5353 mark=0 use=1\n', 'ipv6', 'udp'))
      .toEqual([{ family: 'ipv6', protocol: 'udp', origDst: 'fd00:96::a', origDport: 53, replySrc: 'fd00:96::a' }]);
  });

  it('skips what is no entry', () => {
    expect(parseFlows('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n', 'ipv4', 'udp')).toEqual([]);
  });
});
