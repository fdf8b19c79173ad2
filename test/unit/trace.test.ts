// The trace of one flow through the decisions svcrouter programs, case by case:
// what it concludes and the words it gives. Whether those conclusions are what
// the kernel does is for the kernel tests (test/e2e/, every probe traced too).
import { describe, expect, it } from 'vitest';
import { clusterFrom, decideCluster, traceDecided } from '../../src/cli/pipeline.js';
import { loadConfig, type FlagValues } from '../../src/config/load.js';
import { formatIpvsadm } from '../../src/backends/ipvs/ipvsadm.js';
import { FlowError, flowFromQuery, flowQuery, parseFlow, type FlowArgs } from '../../src/trace/flow.js';
import { formatReport } from '../../src/trace/format.js';
import { node, service, slice, type EndpointSpec, type Raw } from '../support/manifests.js';

const NODE = node('node-a', ['192.168.50.1', 'fd00:50::1'], 'z1', ['10.244.1.0/24', 'fd00:244:1::/64']);
const OUTSIDE = '192.0.2.7';
const POD = '10.244.1.50';

const configOf = (flags: FlagValues) => loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16', ...flags });
const sourced = (objects: Raw[], theNode: Raw) => [theNode, ...objects].map((raw, i) => ({ source: `t#${i + 1}`, raw }));

function traceOf(objects: Raw[], flow: FlowArgs, flags: FlagValues = {}, nodeAddresses?: string[], theNode = NODE) {
  return traceDecided(decideCluster(sourced(objects, theNode), configOf(flags)), parseFlow(flow), nodeAddresses);
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

describe('trace: IPVS mode names the virtual server', () => {
  const IPVS = { proxyMode: 'ipvs' };
  /** `svcrouter dump --proxy-mode ipvs --ipvsadm` of the same cluster. */
  const ipvsadm = (objects: Raw[], flags: FlagValues = {}, theNode = NODE) => formatIpvsadm(clusterFrom(sourced(objects, theNode), configOf({ ...IPVS, ...flags })).ipvs!.virtualServers);
  const rr = (virtualServer: string, persistence = 0) => ({ virtualServer, scheduler: 'rr', persistence });
  const dual = (extra: Raw = {}, status: Raw = {}) => [
    service('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'], ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'http', port: 80, nodePort: extra.type ? 30080 : undefined }], ...extra }, status),
    slice('web', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.11', node: 'node-a' }, { ip: '10.244.2.21', node: 'node-b' }]),
    slice('web', 'IPv6', [{ name: 'http', port: 8080 }], [{ ip: 'fd00:244:1::11', node: 'node-a' }, { ip: 'fd00:244:2::21', node: 'node-b' }]),
  ];

  it('ClusterIP: the address-keyed virtual server, in ipvsadm\'s syntax for its protocol and family', () => {
    expect(traceOf(dual(), { from: POD, to: '10.96.0.10:80' }, IPVS)).toMatchObject({ verdict: 'dnat', ipvs: rr('-t 10.96.0.10:80') });
    expect(traceOf(dual(), { from: 'fd00:244:1::50', to: '[fd00:96::10]:80' }, IPVS).ipvs).toEqual(rr('-t [fd00:96::10]:80'));
    for (const [protocol, arg] of [['UDP', '-u 10.96.0.20:53'], ['SCTP', '--sctp-service 10.96.0.20:53']] as const) {
      const dns = [service('dns', { clusterIP: '10.96.0.20', ports: [{ name: 'dns', port: 53, protocol }] }), slice('dns', 'IPv4', [{ name: 'dns', port: 53, protocol }], [{ ip: '10.244.2.21' }])];
      expect(traceOf(dns, { from: POD, to: '10.96.0.20:53', protocol }, IPVS).ipvs).toEqual(rr(arg));
      expect(ipvsadm(dns)).toContain(`-A ${arg} -s rr\n-a ${arg} -r 10.244.2.21:53 -m -w 1\n`);
    }
    const t = traceOf(dual(), { from: POD, to: '10.96.0.10:80' }, IPVS);
    expect(formatReport(parseFlow({ from: POD, to: '10.96.0.10:80' }), t)).toMatch(
      /\n {2}\d\. IPVS virtual server -t 10\.96\.0\.10:80 schedules the connection \(scheduler rr, no persistence; its real servers are the candidates\)\.\n/);
    expect(t.steps).toContain('Candidate endpoints (2), the virtual server\'s scheduler picks one per new connection: 10.244.1.11:8080, 10.244.2.21:8080.');
  });

  it('NodePort: one virtual server per node address, as dump makes them; none where IPVS mode makes none', () => {
    const twoAddresses = node('node-a', ['192.168.50.1', '192.168.60.1', 'fd00:50::1'], 'z1', ['10.244.1.0/24']);
    const objects = dual({ type: 'NodePort' });
    for (const [to, vs] of [['192.168.50.1:30080', '-t 192.168.50.1:30080'], ['192.168.60.1:30080', '-t 192.168.60.1:30080'], ['[fd00:50::1]:30080', '-t [fd00:50::1]:30080']]) {
      const t = traceOf(objects, { from: to!.startsWith('[') ? '2001:db8::7' : OUTSIDE, to: to! }, IPVS, undefined, twoAddresses);
      expect(t).toMatchObject({ verdict: 'dnat', entry: 'nodePort', masquerade: true, ipvs: rr(vs!) });
      expect(ipvsadm(objects, {}, twoAddresses)).toContain(`-A ${vs} -s rr\n`);
    }
    // --nodeport-addresses CIDRs filter them; --node-addresses replaces the Node object's, link-local ones never serve.
    const within = traceOf(objects, { from: OUTSIDE, to: '192.168.60.1:30080' }, { ...IPVS, nodeportAddresses: '192.168.50.0/24' }, undefined, twoAddresses);
    expect(within).toMatchObject({ verdict: 'accept', ipvs: null });
    expect(within.steps).toContain('NodePort 30080/TCP of Service default/web:http does not answer on 192.168.60.1: 192.168.60.1 is not one of the addresses IPVS mode makes NodePort virtual servers on (192.168.50.1: the node\'s addresses within --nodeport-addresses 192.168.50.0/24, except IPv6 link-local ones).');
    expect(traceOf(objects, { from: OUTSIDE, to: '192.168.70.1:30080' }, IPVS, ['192.168.70.1', 'fe80::1']).ipvs).toEqual(rr('-t 192.168.70.1:30080'));
    expect(traceOf(objects, { from: 'fe80::2', to: '[fe80::1]:30080' }, IPVS, ['192.168.70.1', 'fe80::1'])).toMatchObject({ verdict: 'accept', ipvs: null });
  });

  it('load-balancer and external IPs: their own virtual servers', () => {
    const objects = web(['10.244.1.11', '10.244.2.21'], LB, LB_STATUS);
    expect(traceOf(objects, { from: OUTSIDE, to: '198.51.100.10:80' }, IPVS)).toMatchObject({ entry: 'loadBalancerIP', ipvs: rr('-t 198.51.100.10:80') });
    expect(traceOf(objects, { from: OUTSIDE, to: '203.0.113.50:80' }, IPVS)).toMatchObject({ entry: 'externalIP', ipvs: rr('-t 203.0.113.50:80') });
    expect(ipvsadm(objects)).toMatch(/^-A -t 198\.51\.100\.10:80 -s rr$[\s\S]*^-A -t 203\.0\.113\.50:80 -s rr$/m);
  });

  it('externalTrafficPolicy Local: pods and the node meet the port\'s firewall-mark virtual server, outside clients the address\'s', () => {
    const objects = dual({ ...LB, externalTrafficPolicy: 'Local' }, LB_STATUS);
    const marks = [...ipvsadm(objects).matchAll(/^-A (-f \d+(?: -6)?) -s rr$/gm)].map((m) => m[1]!);
    expect(marks).toEqual([expect.stringMatching(/^-f \d+$/), expect.stringMatching(/^-f \d+ -6$/)]);
    const pod = traceOf(objects, { from: POD, to: '198.51.100.10:80' }, IPVS);
    expect(pod).toMatchObject({ endpoints: ['10.244.1.11:8080', '10.244.2.21:8080'], ipvs: rr(marks[0]!) });
    expect(pod.steps).toContain(`The helper table marks short-circuit traffic with the port's firewall mark ${marks[0]!.split(' ')[1]}, which IPVS looks up first: firewall-mark virtual server ${marks[0]} schedules the connection (scheduler rr, no persistence; its real servers are the candidates).`);
    expect(traceOf(objects, { from: '192.168.50.1', fromNode: true, to: '192.168.50.1:30080' }, IPVS).ipvs).toEqual(rr(marks[0]!));
    expect(traceOf(objects, { from: 'fd00:244:1::50', to: '[fd00:50::1]:30080' }, { ...IPVS, clusterCidr: '10.244.0.0/16,fd00:244::/32' }).ipvs).toEqual(rr(marks[1]!));
    expect(traceOf(objects, { from: OUTSIDE, to: '198.51.100.10:80' }, IPVS)).toMatchObject({ endpoints: ['10.244.1.11:8080'], ipvs: rr('-t 198.51.100.10:80') });
    // The ClusterIP is never short-circuited.
    expect(traceOf(objects, { from: POD, to: '10.96.0.10:80' }, IPVS).ipvs).toEqual(rr('-t 10.96.0.10:80'));
  });

  it('affinity is persistence with its timeout; --ipvs-scheduler names the scheduler', () => {
    const sticky = web(['10.244.1.11'], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
    const t = traceOf(sticky, { from: POD, to: '10.96.0.10:80' }, IPVS);
    expect(t).toMatchObject({ affinity: 600, ipvs: rr('-t 10.96.0.10:80', 600) });
    expect(t.steps).toContain('IPVS virtual server -t 10.96.0.10:80 schedules the connection (scheduler rr, persistence 600s per client address; its real servers are the candidates).');
    expect(ipvsadm(sticky)).toContain('-A -t 10.96.0.10:80 -s rr -p 600\n');
    expect(traceOf(sticky, { from: POD, to: '10.96.0.10:80' }, { ...IPVS, ipvsScheduler: 'mh' }).ipvs).toEqual({ virtualServer: '-t 10.96.0.10:80', scheduler: 'mh', persistence: 600 });
  });

  it('no virtual server where none takes the packet: reject, drop, accept; and none in nftables mode', () => {
    expect(traceOf(web([{ ip: '10.244.1.11', ready: false }]), { from: POD, to: '10.96.0.10:80' }, IPVS)).toMatchObject({ verdict: 'reject', ipvs: null });
    expect(traceOf(web(['10.244.2.21'], { ...LB, externalTrafficPolicy: 'Local' }, LB_STATUS), { from: OUTSIDE, to: '198.51.100.10:80' }, IPVS)).toMatchObject({ verdict: 'drop', ipvs: null });
    expect(traceOf(web(['10.244.1.11']), { from: POD, to: '10.97.0.1:80' }, IPVS)).toMatchObject({ verdict: 'accept', ipvs: null });
    const nft = traceOf(web(['10.244.1.11']), { from: POD, to: '10.96.0.10:80' });
    expect(nft).toMatchObject({ verdict: 'dnat', ipvs: null });
    expect(nft.steps.join('\n')).not.toMatch(/IPVS|scheduler/);
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
