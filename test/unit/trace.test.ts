// The trace of one flow through the decisions svcrouter programs, case by case:
// what it concludes and the words it gives. Whether those conclusions are what
// the kernel does is for the kernel tests (test/e2e/, every probe traced too).
import { describe, expect, it } from 'vitest';
import { decideCluster, traceDecided } from '../../src/cli/pipeline.js';
import { loadConfig, type FlagValues } from '../../src/config/load.js';
import { FlowError, flowFromQuery, flowQuery, parseFlow, type FlowArgs } from '../../src/trace/flow.js';
import { node, service, slice, type EndpointSpec, type Raw } from '../support/manifests.js';

const NODE = node('node-a', ['192.168.50.1', 'fd00:50::1'], 'z1', ['10.244.1.0/24', 'fd00:244:1::/64']);
const OUTSIDE = '192.0.2.7';
const POD = '10.244.1.50';

function traceOf(objects: Raw[], flow: FlowArgs, flags: FlagValues = {}, nodeAddresses?: string[]) {
  const cfg = loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16', ...flags });
  const decided = decideCluster([NODE, ...objects].map((raw, i) => ({ source: `t#${i + 1}`, raw })), cfg);
  return traceDecided(decided, parseFlow(flow), nodeAddresses);
}

/** Service "web" (ClusterIP 10.96.0.10, port "http" 80 -> 8080) with endpoints given by address; 10.244.1.* are on node-a. */
function web(eps: (string | EndpointSpec)[], spec: Raw = {}, status: Raw = {}): Raw[] {
  const endpoints = eps.map((e) => (typeof e === 'string' ? { ip: e } : e)).map((e) => ({ node: e.ip.startsWith('10.244.1.') ? 'node-a' : 'node-b', ...e }));
  return [
    service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, nodePort: spec.type ? 30080 : undefined }], ...spec }, status),
    slice('web', 'IPv4', [{ name: 'http', port: 8080 }], endpoints),
  ];
}

const LB = { type: 'LoadBalancer', externalIPs: ['203.0.113.50'] };
const LB_STATUS = { loadBalancer: { ingress: [{ ip: '198.51.100.10' }] } };

describe('trace: ClusterIP', () => {
  it('pod traffic: DNAT to every ready endpoint, source kept', () => {
    const t = traceOf(web(['10.244.1.11', '10.244.2.21', { ip: '10.244.2.22', ready: false }]), { from: POD, to: '10.96.0.10:80' });
    expect(t).toMatchObject({
      verdict: 'dnat', endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'], masquerade: false, hairpin: [],
      service: 'default/web:http', entry: 'clusterIP', affinity: 0,
    });
    expect(t.steps).toContain(`${POD} is pod traffic: it is inside --cluster-cidr 10.244.0.0/16.`);
    expect(t.steps.join('\n')).toMatch(/Not used: 10\.244\.2\.22:8080 \(not ready\)/);
  });

  it('traffic from outside the cluster CIDR, and the node\'s own, are masqueraded; with no detector nothing is', () => {
    expect(traceOf(web(['10.244.1.11']), { from: OUTSIDE, to: '10.96.0.10:80' })).toMatchObject({ verdict: 'dnat', masquerade: true });
    expect(traceOf(web(['10.244.1.11']), { from: '192.168.50.1', fromNode: true, to: '10.96.0.10:80' })).toMatchObject({ verdict: 'dnat', masquerade: true });
    expect(traceOf(web(['10.244.1.11']), { from: POD, to: '10.96.0.10:80' }, { masqueradeAll: true }).masquerade).toBe(true);
    const none = traceOf(web(['10.244.1.11']), { from: OUTSIDE, to: '10.96.0.10:80' }, { clusterCidr: '' });
    expect(none.masquerade).toBe(false);
    expect(none.steps[0]).toMatch(/no source is taken for pod traffic \(--detect-local-mode ClusterCIDR: --cluster-cidr has no IPv4 CIDR\)/);
  });

  it('the interface detectors read the interface the packet arrives on', () => {
    const flags = { detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: 'veth' };
    expect(traceOf(web(['10.244.1.11']), { from: POD, to: '10.96.0.10:80', inInterface: 'veth12' }, flags).masquerade).toBe(false);
    expect(traceOf(web(['10.244.1.11']), { from: POD, to: '10.96.0.10:80', inInterface: 'eth0' }, flags).masquerade).toBe(true);
    expect(traceOf(web(['10.244.1.11']), { from: POD, to: '10.96.0.10:80' }, flags).steps[0]).toMatch(/no --in-interface was given/);
  });

  it('a client that is itself an endpoint is masqueraded when it lands on itself (hairpin)', () => {
    const alone = traceOf(web([POD]), { from: POD, to: '10.96.0.10:80' });
    expect(alone).toMatchObject({ verdict: 'dnat', masquerade: true, hairpin: [`${POD}:8080`] });
    const among = traceOf(web([POD, '10.244.1.11']), { from: POD, to: '10.96.0.10:80' });
    expect(among).toMatchObject({ masquerade: false, hairpin: [`${POD}:8080`] });
    expect(among.reason).toMatch(/masqueraded only to itself \(hairpin\)/);
  });

  it('no usable endpoint: rejected; internalTrafficPolicy Local with none here: dropped', () => {
    expect(traceOf(web([{ ip: '10.244.1.11', ready: false }]), { from: POD, to: '10.96.0.10:80' }))
      .toMatchObject({ verdict: 'reject', service: 'default/web:http', entry: 'clusterIP', reason: expect.stringMatching(/no endpoint that is ready/) });
    expect(traceOf(web(['10.244.2.21'], { internalTrafficPolicy: 'Local' }), { from: POD, to: '10.96.0.10:80' }))
      .toMatchObject({ verdict: 'drop', reason: expect.stringMatching(/internalTrafficPolicy Local and no endpoint on this node/) });
  });

  it('terminating endpoints take over only when none is ready; topology hints narrow the choice', () => {
    const fallback = traceOf(web([{ ip: '10.244.1.11', ready: false, serving: true, terminating: true }, { ip: '10.244.2.21', ready: false, serving: false }]), { from: POD, to: '10.96.0.10:80' });
    expect(fallback.endpoints).toEqual(['10.244.1.11:8080']);
    expect(fallback.steps).toContain('No endpoint is ready: serving endpoints that are terminating take the traffic.');
    const zoned = traceOf(web([{ ip: '10.244.1.11', zones: ['z1'] }, { ip: '10.244.2.21', zones: ['z2'] }]), { from: POD, to: '10.96.0.10:80' });
    expect(zoned.endpoints).toEqual(['10.244.1.11:8080']);
    expect(zoned.steps.join('\n')).toMatch(/Topology hints \(PreferSameZone\): only endpoints hinted for this node's zone, z1[\s\S]*10\.244\.2\.21:8080 \(hinted for z2\)/);
  });

  it('affinity is named with its timeout; every endpoint stays a candidate for a new client', () => {
    const t = traceOf(web(['10.244.1.11', '10.244.2.21'], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }), { from: POD, to: '10.96.0.10:80' });
    expect(t).toMatchObject({ affinity: 600, endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'] });
  });

  it('another port of a ClusterIP is rejected, an unallocated address in a ServiceCIDR dropped, anything else left alone', () => {
    const cidr = { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'k' }, spec: { cidrs: ['10.96.0.0/16'] } };
    expect(traceOf([...web(['10.244.1.11']), cidr], { from: POD, to: '10.96.0.10:81' }))
      .toMatchObject({ verdict: 'reject', service: null, reason: '10.96.0.10 is the ClusterIP of Service default/web, which has no port 81/TCP: rejected' });
    expect(traceOf([...web(['10.244.1.11']), cidr], { from: POD, to: '10.96.0.99:80', protocol: 'udp' }))
      .toMatchObject({ verdict: 'drop', reason: '10.96.0.99 is inside the ServiceCIDR 10.96.0.0/16 but no Service has it: dropped' });
    expect(traceOf([...web(['10.244.1.11']), cidr], { from: POD, to: '10.97.0.1:80' }))
      .toMatchObject({ verdict: 'accept', endpoints: [], masquerade: false, service: null, reason: 'no Service answers on 10.97.0.1:80/TCP: svcrouter leaves the packet alone' });
  });
});

describe('trace: external traffic', () => {
  it('externalTrafficPolicy Cluster: every endpoint, masqueraded, on the LB IP, the external IP and the NodePort', () => {
    for (const [to, entry] of [['198.51.100.10:80', 'loadBalancerIP'], ['203.0.113.50:80', 'externalIP'], ['192.168.50.1:30080', 'nodePort']]) {
      expect(traceOf(web(['10.244.1.11', '10.244.2.21'], LB, LB_STATUS), { from: OUTSIDE, to: to! }))
        .toMatchObject({ verdict: 'dnat', entry, endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'], masquerade: true });
    }
  });

  it('externalTrafficPolicy Local: outside clients get this node\'s endpoints and keep their source; pods and the node are short-circuited', () => {
    const objects = web(['10.244.1.11', '10.244.2.21'], { ...LB, externalTrafficPolicy: 'Local' }, LB_STATUS);
    expect(traceOf(objects, { from: OUTSIDE, to: '198.51.100.10:80' })).toMatchObject({ endpoints: ['10.244.1.11:8080'], masquerade: false });
    const pod = traceOf(objects, { from: POD, to: '192.168.50.1:30080' });
    expect(pod).toMatchObject({ endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'], masquerade: false });
    expect(pod.steps.join('\n')).toMatch(/traffic from pods and from the node itself is short-circuited/);
    expect(traceOf(objects, { from: '192.168.50.1', fromNode: true, to: '198.51.100.10:80' })).toMatchObject({ endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'], masquerade: true });
    expect(traceOf(web(['10.244.2.21'], { ...LB, externalTrafficPolicy: 'Local' }, LB_STATUS), { from: OUTSIDE, to: '192.168.50.1:30080' }))
      .toMatchObject({ verdict: 'drop', entry: 'nodePort', reason: expect.stringMatching(/externalTrafficPolicy Local and no endpoint on this node/) });
  });

  it('loadBalancerSourceRanges drop other sources on the LB IP only', () => {
    const objects = web(['10.244.1.11'], { ...LB, loadBalancerSourceRanges: ['192.0.2.0/28'] }, LB_STATUS);
    expect(traceOf(objects, { from: OUTSIDE, to: '198.51.100.10:80' }).verdict).toBe('dnat');
    expect(traceOf(objects, { from: '192.0.2.77', to: '198.51.100.10:80' }))
      .toMatchObject({ verdict: 'drop', entry: 'loadBalancerIP', reason: expect.stringMatching(/192\.0\.2\.77 is not in the loadBalancerSourceRanges of Service default\/web:http \(192\.0\.2\.0\/28\)/) });
    expect(traceOf(objects, { from: '192.0.2.77', to: '203.0.113.50:80' }).verdict).toBe('dnat');
  });

  it('NodePorts answer on the addresses --nodeport-addresses selects, and says why not elsewhere', () => {
    const objects = web(['10.244.1.11'], { type: 'NodePort' });
    const other = traceOf(objects, { from: OUTSIDE, to: '192.168.60.1:30080' }, {}, ['192.168.50.1', '192.168.60.1']);
    expect(other).toMatchObject({ verdict: 'accept', service: null });
    expect(other.steps).toContain('NodePort 30080/TCP of Service default/web:http does not answer on 192.168.60.1: NodePorts answer on the node\'s primary address only (192.168.50.1; --nodeport-addresses primary).');
    const within = { nodeportAddresses: '192.168.60.0/24' };
    expect(traceOf(objects, { from: OUTSIDE, to: '192.168.60.1:30080' }, within, ['192.168.50.1', '192.168.60.1'])).toMatchObject({ verdict: 'dnat', entry: 'nodePort' });
    expect(traceOf(objects, { from: OUTSIDE, to: '192.168.60.1:30080' }, within).steps).toContain('NodePort 30080/TCP of Service default/web:http does not answer on 192.168.60.1: 192.168.60.1 is not an address of this node.');
  });
});

describe('trace: skipped objects', () => {
  it('a Service skipped as invalid is named as the reason nothing answers on its address', () => {
    const bad = service('api', { clusterIP: '10.96.0.30', ports: [{ name: 'http', port: 70000 }] });
    const t = traceOf([bad], { from: POD, to: '10.96.0.30:80' });
    expect(t.verdict).toBe('accept');
    expect(t.reason).toMatch(/^no Service answers on 10\.96\.0\.30:80\/TCP: svcrouter leaves the packet alone; Service default\/api was skipped as invalid \(spec\.ports\[0\]\.port: must be an integer in 1-65535, got 70000\)$/);
  });

  it('an EndpointSlice skipped as invalid is named beside the Service it would have served', () => {
    const badSlice = { ...slice('web', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.12' }], '-bad'), addressType: 'IPv4', endpoints: [{ addresses: ['not-an-ip'] }] };
    const t = traceOf([...web([]), badSlice], { from: POD, to: '10.96.0.10:80' });
    expect(t.verdict).toBe('reject');
    expect(t.reason).toMatch(/has no endpoint that is ready, or serving while terminating: rejected; EndpointSlice default\/web-ipv4-bad was skipped as invalid/);
  });

  it('a Service refused for a clash is named where it clashes', () => {
    const clash = service('web2', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80 }] });
    const t = traceOf([...web(['10.244.1.11']), clash], { from: POD, to: '10.96.0.10:80' });
    expect(t.verdict).toBe('dnat');
    expect(t.steps.join('\n')).toMatch(/Skipped as invalid: t#4: Service default\/web2 field spec\.ports: 10\.96\.0\.10 port 80\/TCP is already used by Service default\/web/);
  });
});

describe('flows', () => {
  it('take IPv4 and [IPv6] destinations, and travel to the agent and back unchanged', () => {
    const v6 = parseFlow({ from: 'fd00:244:1::5', to: '[fd00:96::10]:53', protocol: 'UDP' });
    expect(v6).toEqual({ family: 'ipv6', src: 'fd00:244:1::5', dst: 'fd00:96::10', dport: 53, protocol: 'udp', fromNode: false, inInterface: '' });
    const node = parseFlow({ from: '192.168.50.1', to: '10.96.0.10:80', fromNode: true });
    for (const f of [v6, node]) expect(flowFromQuery(flowQuery(f))).toEqual(f);
  });

  it('refuse what is not a flow, naming the flag', () => {
    const bad: [FlowArgs, RegExp][] = [
      [{ from: 'x', to: '10.96.0.10:80' }, /--from: "x" is not an IP address/],
      [{ from: POD, to: '10.96.0.10' }, /--to: "10\.96\.0\.10" is not IP:PORT/],
      [{ from: POD, to: '10.96.0.10:0' }, /--to: .* with a port in 1-65535/],
      [{ from: POD, to: '[fd00::1]:80' }, /are of different IP families/],
      [{ from: POD, to: '10.96.0.10:80', protocol: 'icmp' }, /--protocol: "icmp" is not tcp, udp or sctp/],
      [{ from: POD, to: '10.96.0.10:80', fromNode: true, inInterface: 'eth0' }, /the node's own packets arrive on no interface/],
      [{ from: POD, to: '10.96.0.10:80', inInterface: 'a b' }, /--in-interface: "a b" is not an interface name/],
    ];
    for (const [args, message] of bad) expect(() => parseFlow(args)).toThrow(message);
    expect(() => flowFromQuery(new URLSearchParams('from=10.0.0.1&to=10.96.0.10:80&from-node=yes'))).toThrow(FlowError);
  });
});
