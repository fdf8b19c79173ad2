// Which UDP conntrack entries a change makes stale (kube-proxy's rule).
import { describe, expect, it } from 'vitest';
import { buildState } from '../../src/state/build.js';
import { decideAll } from '../../src/policy/port-policy.js';
import { staleUdpFlows as fromChanges } from '../../src/policy/stale-flows.js';
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
