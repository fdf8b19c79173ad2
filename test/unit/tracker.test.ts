// The state tracker, fed one API change at a time: it must reach the state a
// batch build of the same objects reaches, and report as changed exactly the
// ports a change touches (later stages redo only those).
import { describe, expect, it } from 'vitest';
import { StateTracker } from '../../src/state/tracker.js';
import { buildState } from '../../src/state/build.js';
import { formatIssue } from '../../src/state/issues.js';
import { node, service, slice, type Raw } from '../support/manifests.js';

const tcp80 = [{ name: 'http', protocol: 'TCP', port: 80 }];
const web = (name: string, vip: string, extra: Raw = {}) => service(name, { clusterIP: vip, ports: tcp80, ...extra });
const eps = (name: string, ips: string[]) => slice(name, 'IPv4', [{ name: 'http', port: 8080 }], ips.map((ip) => ({ ip, node: 'node-a' })));

function fed(objects: Raw[]): StateTracker {
  const t = new StateTracker({ nodeName: 'node-a' });
  objects.forEach((raw, i) => t.upsert(`t#${i}`, raw));
  return t;
}

const ports = (t: StateTracker) => [...t.state().servicePorts.keys()].sort();

describe('StateTracker', () => {
  it('reports only the ports a change touches', () => {
    const t = fed([node('node-a', ['192.168.50.1'], 'z1', []), web('a', '10.96.0.1'), eps('a', ['10.244.0.1']), web('b', '10.96.0.2'), eps('b', ['10.244.0.2'])]);
    expect([...t.takeChanges().ports].sort()).toEqual(['default/a:http/tcp', 'default/b:http/tcp']);
    t.upsert('t', eps('b', ['10.244.0.2', '10.244.0.3']));
    expect(t.takeChanges()).toEqual({ ports: new Set(['default/b:http/tcp']), base: false });
    // The same content again (a new resourceVersion, say) changes nothing.
    t.upsert('t', eps('b', ['10.244.0.2', '10.244.0.3']));
    t.upsert('t', web('a', '10.96.0.1'));
    expect(t.takeChanges().ports.size).toBe(0);
    // A node change reaches every decision and the fixed part.
    t.upsert('t', node('node-a', ['192.168.50.1'], 'z2', []));
    expect(t.takeChanges()).toEqual({ ports: new Set(['default/a:http/tcp', 'default/b:http/tcp']), base: true });
    t.remove(web('a', '10.96.0.1'));
    expect(t.takeChanges().ports).toEqual(new Set(['default/a:http/tcp']));
    expect(ports(t)).toEqual(['default/b:http/tcp']);
    expect(t.state().endpoints.get('default/b:http/tcp')!.map((e) => e.ip)).toEqual(['10.244.0.2', '10.244.0.3']);
  });

  it('resolves a clash as a batch build does, and undoes it when the first claimant goes', () => {
    const objects = [web('b', '10.96.0.1'), web('a', '10.96.0.1'), web('c', '10.96.0.3')];
    const t = fed(objects);
    const batch = buildState(objects.map((raw, i) => ({ source: `t#${i}`, raw })), { nodeName: 'node-a' });
    expect(ports(t)).toEqual(['default/a:http/tcp', 'default/c:http/tcp']);
    expect(ports(t)).toEqual([...batch.state.servicePorts.keys()].sort());
    expect(t.issues().map(formatIssue)).toEqual(batch.issues.map(formatIssue));
    expect(t.issues().map(formatIssue)).toEqual(['t#0: Service default/b field spec.ports: 10.96.0.1 port 80/TCP is already used by Service default/a']);
    t.takeChanges();
    t.remove(web('a', '10.96.0.1'));
    expect(t.takeChanges().ports).toEqual(new Set(['default/a:http/tcp', 'default/b:http/tcp']));
    expect(ports(t)).toEqual(['default/b:http/tcp', 'default/c:http/tcp']);
    expect(t.issues()).toEqual([]);
    // Back again: the first in key order wins again, whatever the order of arrival.
    t.upsert('t#9', web('a', '10.96.0.1'));
    expect(ports(t)).toEqual(['default/a:http/tcp', 'default/c:http/tcp']);
    // c moving onto the contested address is refused too; moving away frees it.
    t.upsert('t#10', web('c', '10.96.0.1'));
    expect(ports(t)).toEqual(['default/a:http/tcp']);
    t.upsert('t#11', web('c', '10.96.0.4'));
    expect(ports(t)).toEqual(['default/a:http/tcp', 'default/c:http/tcp']);
  });

  it('moves a slice that changes its service, and forgets a deleted one', () => {
    const t = fed([web('a', '10.96.0.1'), web('b', '10.96.0.2'), eps('a', ['10.244.0.1'])]);
    const moved = eps('a', ['10.244.0.1']);
    (moved.metadata as { labels: Record<string, string> }).labels['kubernetes.io/service-name'] = 'b';
    t.takeChanges();
    t.upsert('t', moved);
    expect(t.takeChanges().ports).toEqual(new Set(['default/a:http/tcp', 'default/b:http/tcp']));
    expect(t.state().endpoints.get('default/a:http/tcp')).toEqual([]);
    expect(t.state().endpoints.get('default/b:http/tcp')!.map((e) => e.ip)).toEqual(['10.244.0.1']);
    t.remove({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'default', name: 'a-ipv4' } });
    expect(t.state().endpoints.get('default/b:http/tcp')).toEqual([]);
  });
});

describe('StateTracker.issuesVersion', () => {
  it('moves when the problems change, and only then', () => {
    const t = fed([web('a', '10.96.0.1')]);
    const v0 = t.issuesVersion;
    t.upsert('t', web('b', '10.96.0.2'));
    expect(t.issuesVersion).toBe(v0);
    t.upsert('t', web('c', '10.96.0.1')); // a clash
    const v1 = t.issuesVersion;
    expect(v1).not.toBe(v0);
    t.upsert('t', eps('a', ['10.244.0.1']));
    expect(t.issuesVersion).toBe(v1);
    t.upsert('t', web('d', 'not-an-ip'));
    expect(t.issuesVersion).not.toBe(v1);
    expect(t.issues()).toHaveLength(2);
  });
});
