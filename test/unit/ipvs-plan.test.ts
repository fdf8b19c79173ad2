// IPVS mode's plan from manifests: the virtual and real servers (in ipvsadm
// syntax), the bound addresses and the helper table's decisions.
import { describe, expect, it } from 'vitest';
import { clusterFrom } from '../../src/cli/pipeline.js';
import { loadConfig, type FlagValues } from '../../src/config/load.js';
import { formatIpvsadm } from '../../src/backends/ipvs/ipvsadm.js';
import { node, service, slice, type Raw } from '../support/manifests.js';

const FLAGS: FlagValues = { proxyMode: 'ipvs', hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16,fd00:244::/32' };
const NODE = node('node-a', ['192.168.50.1', 'fd00:50::1'], 'z1', ['10.244.1.0/24']);

function plan(objects: Raw[], flags: FlagValues = {}) {
  const loaded = clusterFrom(objects.map((raw, i) => ({ source: `test#${i + 1}`, raw })), loadConfig({ ...FLAGS, ...flags }));
  expect(loaded.build.issues).toEqual([]);
  return { ...loaded.ipvs!, warnings: loaded.warnings, ipvsadm: formatIpvsadm(loaded.ipvs!.virtualServers) };
}

const elements = (p: ReturnType<typeof plan>, family: 'ip' | 'ip6', set: string) =>
  [...(p.tables.find((t) => t.family === family)!.elements.get(set) ?? new Map())].map(([k, v]) => (v ? `${k} : ${v.split('\t')[0]}` : k));

const web = (extra: Raw = {}, status: Raw = {}) => service('web', {
  type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00:96::10'], ipFamilyPolicy: 'RequireDualStack',
  ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra,
}, status);
const webSlices = (v4: { ip: string; node: string }[], v6: { ip: string; node: string }[] = []) => [
  slice('web', 'IPv4', [{ name: 'http', port: 8080 }], v4),
  slice('web', 'IPv6', [{ name: 'http', port: 8080 }], v6),
];

describe('IPVS plan', () => {
  it('prints virtual and real servers in ipvsadm --save -n syntax, sorted, both families', () => {
    const p = plan([NODE, web(), ...webSlices([{ ip: '10.244.2.21', node: 'node-b' }, { ip: '10.244.1.11', node: 'node-a' }], [{ ip: 'fd00:244:1::11', node: 'node-a' }]),
      service('db', { clusterIP: '10.96.0.20', ports: [{ name: 'sql', port: 5432, protocol: 'UDP' }] })]);
    expect(p.ipvsadm).toBe([
      '-A -t 10.96.0.10:80 -s rr',
      '-a -t 10.96.0.10:80 -r 10.244.1.11:8080 -m -w 1',
      '-a -t 10.96.0.10:80 -r 10.244.2.21:8080 -m -w 1',
      '-A -t 192.168.50.1:30080 -s rr',
      '-a -t 192.168.50.1:30080 -r 10.244.1.11:8080 -m -w 1',
      '-a -t 192.168.50.1:30080 -r 10.244.2.21:8080 -m -w 1',
      '-A -t [fd00:50::1]:30080 -s rr',
      '-a -t [fd00:50::1]:30080 -r [fd00:244:1::11]:8080 -m -w 1',
      '-A -t [fd00:96::10]:80 -s rr',
      '-a -t [fd00:96::10]:80 -r [fd00:244:1::11]:8080 -m -w 1',
      '-A -u 10.96.0.20:5432 -s rr',
      '',
    ].join('\n'));
    expect(p.addresses).toEqual({ ipv4: ['10.96.0.10', '10.96.0.20'], ipv6: ['fd00:96::10'] });
    // No endpoint at all: the virtual server stays, empty; the helper table rejects first.
    expect(elements(p, 'ip', 'no-endpoint-services')).toEqual(['10.96.0.20 . udp . 5432 : goto reject-chain']);
  });

  it('affinity is persistence per client address with its timeout; the scheduler is printed as given, mh hashing the port too', () => {
    const objects = [NODE, service('s', { clusterIP: '10.96.0.30', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }, ports: [{ port: 80 }] }),
      slice('s', 'IPv4', [{ port: 8080 }], [{ ip: '10.244.1.11', node: 'node-a' }])];
    expect(plan(objects).ipvsadm.split('\n')[0]).toBe('-A -t 10.96.0.30:80 -s rr -p 600');
    expect(plan(objects, { ipvsScheduler: 'mh' }).ipvsadm.split('\n')[0]).toBe('-A -t 10.96.0.30:80 -s mh -b mh-port -p 600');
    expect(plan(objects, { ipvsScheduler: 'wlc' }).ipvsadm.split('\n')[0]).toBe('-A -t 10.96.0.30:80 -s wlc -p 600');
    expect(plan(objects, { ipvsScheduler: 'madeup' }).ipvsadm.split('\n')[0]).toBe('-A -t 10.96.0.30:80 -s madeup -p 600');
  });

  it('NodePorts: every usable Node address by default; CIDRs filter their family; primary is the first of each family', () => {
    const many = node('node-a', ['192.168.50.1', '10.0.0.7', '127.0.0.1', 'fd00:50::1', 'fe80::1'], 'z1', []);
    (many.status as Raw).addresses = [...((many.status as Raw).addresses as Raw[]), { type: 'ExternalIP', address: '203.0.113.9' }, { type: 'Hostname', address: 'node-a' }];
    const objects = [many, web(), ...webSlices([])];
    const nodePorts = (flags: FlagValues = {}) => plan(objects, flags).ipvsadm.split('\n').filter((l) => l.includes(':30080')).map((l) => l.split(' ')[2]);
    expect(nodePorts()).toEqual(['10.0.0.7:30080', '192.168.50.1:30080', '203.0.113.9:30080', '[fd00:50::1]:30080']);
    expect(nodePorts({ nodeportAddresses: '10.0.0.0/8' })).toEqual(['10.0.0.7:30080', '[fd00:50::1]:30080']);
    expect(nodePorts({ nodeportAddresses: 'primary' })).toEqual(['192.168.50.1:30080', '[fd00:50::1]:30080']);
    expect(elements(plan(objects), 'ip', 'nodeport-ips').sort()).toEqual(['10.0.0.7', '192.168.50.1', '203.0.113.9']);
  });

  it('no Node object: no NodePort virtual servers, and one warning', () => {
    const p = plan([web(), ...webSlices([{ ip: '10.244.1.11', node: 'node-a' }])]);
    expect(p.ipvsadm).not.toContain(':30080');
    expect(p.warnings).toEqual(['node node-a has no Node object with addresses: no NodePort virtual servers']);
  });

  it('external IPs are programmed as given; one that is a node address is not bound again', () => {
    const p = plan([NODE, web({ externalIPs: ['127.0.0.1', '192.168.50.1', '203.0.113.50'] }), ...webSlices([{ ip: '10.244.1.11', node: 'node-a' }])]);
    for (const a of ['127.0.0.1:80', '192.168.50.1:80', '203.0.113.50:80']) expect(p.ipvsadm).toContain(`-A -t ${a} -s rr`);
    expect(p.addresses.ipv4).toEqual(['10.96.0.10', '127.0.0.1', '203.0.113.50']);
    expect(elements(p, 'ip', 'external-ips').sort()).toEqual([
      '127.0.0.1 . tcp . 80 : goto external-cluster', '192.168.50.1 . tcp . 80 : goto external-cluster', '203.0.113.50 . tcp . 80 : goto external-cluster']);
  });

  it('a Service has no virtual server in a family where it has no ClusterIP', () => {
    const p = plan([NODE, service('v4', { clusterIP: '10.96.0.40', externalIPs: ['2001:db8::1'], ports: [{ port: 80 }] })]);
    expect(p.virtualServers.map((v) => v.family)).toEqual(['ipv4']);
  });

  it('ETP Local: outside traffic gets the local endpoints; pods and the node a firewall-mark server with all of them', () => {
    const lb = web({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, { loadBalancer: { ingress: [{ ip: '198.51.100.10' }] } });
    const p = plan([NODE, lb, ...webSlices([{ ip: '10.244.1.11', node: 'node-a' }, { ip: '10.244.2.21', node: 'node-b' }])]);
    const mark = Number(elements(p, 'ip', 'shortcircuit-marks')[0]);
    expect(p.ipvsadm).toContain([
      '-A -t 198.51.100.10:80 -s rr', '-a -t 198.51.100.10:80 -r 10.244.1.11:8080 -m -w 1', ''].join('\n'));
    expect(p.ipvsadm).toContain(['-A -t 192.168.50.1:30080 -s rr', '-a -t 192.168.50.1:30080 -r 10.244.1.11:8080 -m -w 1', '-A'].join('\n'));
    expect(p.ipvsadm).toContain([`-A -f ${mark} -s rr`, `-a -f ${mark} -r 10.244.1.11:8080 -m -w 1`, `-a -f ${mark} -r 10.244.2.21:8080 -m -w 1`].join('\n'));
    expect(mark & 0x4000).toBe(0);
    expect(elements(p, 'ip', 'shortcircuit-ips')).toEqual([`198.51.100.10 . tcp . 80 : 0x${mark.toString(16).padStart(8, '0')}`]);
    expect(elements(p, 'ip', 'shortcircuit-nodeports')).toEqual([`tcp . 30080 : 0x${mark.toString(16).padStart(8, '0')}`]);
    expect(elements(p, 'ip', 'external-ips')).toEqual(['198.51.100.10 . tcp . 80 : goto external-local']);
    expect(elements(p, 'ip', 'no-endpoint-services')).toEqual([]);
  });

  it('ETP Local without a local endpoint: outside traffic is dropped, short-circuit traffic still served; ITP Local likewise drops', () => {
    const lb = web({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local' }, { loadBalancer: { ingress: [{ ip: '198.51.100.10' }] } });
    const p = plan([NODE, lb, ...webSlices([{ ip: '10.244.2.21', node: 'node-b' }])]);
    expect(p.ipvsadm).toContain('-A -t 198.51.100.10:80 -s rr\n-A');
    expect(p.ipvsadm).toContain('-A -t 10.96.0.10:80 -s rr\n-A');
    expect(elements(p, 'ip', 'no-endpoint-services').sort()).toEqual(['10.96.0.10 . tcp . 80 : drop', '198.51.100.10 . tcp . 80 : drop']);
    expect(elements(p, 'ip', 'no-endpoint-nodeports')).toEqual(['tcp . 30080 : drop']);
    expect(p.ipvsadm).toMatch(/-a -f \d+ -r 10\.244\.2\.21:8080 -m -w 1/);
  });

  it('a port keeps its firewall mark whatever other ports come and go', () => {
    const etp = (name: string, ip: string) => [
      service(name, { type: 'LoadBalancer', clusterIP: ip, externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30000 + Number(ip.split('.')[3]) }] }, { loadBalancer: { ingress: [{ ip: `198.51.100.${ip.split('.')[3]}` }] } }),
      slice(name, 'IPv4', [{ port: 8080 }], [{ ip: '10.244.1.11', node: 'node-a' }], `-${name}`)];
    const markOf = (p: ReturnType<typeof plan>, ip: string) => elements(p, 'ip', 'shortcircuit-ips').find((e) => e.startsWith(ip));
    const alone = plan([NODE, ...etp('m', '10.96.0.50')]);
    const crowded = plan([NODE, ...etp('a', '10.96.0.51'), ...etp('m', '10.96.0.50'), ...etp('z', '10.96.0.52')]);
    expect(markOf(crowded, '198.51.100.50')).toBe(markOf(alone, '198.51.100.50'));
  });

  it('--cluster-cidr, --masquerade-all and --ipvs-exclude-cidrs change no virtual server', () => {
    const objects = [NODE, web(), ...webSlices([{ ip: '10.244.1.11', node: 'node-a' }])];
    const base = plan(objects).ipvsadm;
    expect(plan(objects, { clusterCidr: '' }).ipvsadm).toBe(base);
    expect(plan(objects, { masqueradeAll: true }).ipvsadm).toBe(base);
    expect(plan(objects, { ipvsExcludeCidrs: '10.96.0.0/16' }).ipvsadm).toBe(base);
  });
});
