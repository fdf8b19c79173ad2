// Bad input is reported with file, document, object and field, and skipped;
// everything else is still programmed.
import { describe, expect, it } from 'vitest';
import { buildState } from '../../src/state/build.js';
import { StateTracker } from '../../src/state/tracker.js';
import { parseManifest, ManifestError } from '../../src/manifests/load.js';
import { desiredTables } from '../../src/backends/nftables/desired.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { formatIssue } from '../../src/state/issues.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';

const good = `
apiVersion: v1
kind: Service
metadata: {name: good, namespace: default}
spec: {clusterIP: 10.96.0.5, ports: [{name: p, port: 80}]}
`;

function service(spec: string, name = 'bad'): string {
  return `---\napiVersion: v1\nkind: Service\nmetadata: {name: ${JSON.stringify(name)}, namespace: default}\nspec: ${spec}\n`;
}

function run(yaml: string) {
  const objects = parseManifest('c.yaml', yaml);
  const r = buildState(objects, { nodeName: 'node-a' });
  return { ...r, script: renderTables(desiredTables(r.state, { ...DEFAULT_CONFIG, hostname: 'node-a' })), messages: r.issues.map(formatIssue) };
}

describe('bad Services are skipped with a precise report', () => {
  const cases: [string, string, RegExp][] = [
    ['invalid clusterIP', service('{clusterIP: 10.96.0.300, ports: [{port: 80}]}'), /c\.yaml#2: Service default\/bad field spec\.clusterIP: "10\.96\.0\.300" is not an IP address/],
    ['octal-looking IP (ipaddr.js alone would accept it)', service('{clusterIP: 010.96.0.1, ports: [{port: 80}]}'), /spec\.clusterIP: "010\.96\.0\.1" is not an IP address/],
    ['port out of range', service('{clusterIP: 10.96.0.6, ports: [{port: 70000}]}'), /spec\.ports\[0\]\.port: must be an integer in 1-65535, got 70000/],
    ['port not a number', service('{clusterIP: 10.96.0.6, ports: [{port: "80; drop"}]}'), /spec\.ports\[0\]\.port: must be an integer/],
    ['unknown protocol', service('{clusterIP: 10.96.0.6, ports: [{port: 80, protocol: ICMP}]}'), /spec\.ports\[0\]\.protocol: unknown protocol "ICMP"/],
    ['nodePort on a ClusterIP service', service('{clusterIP: 10.96.0.6, ports: [{port: 80, nodePort: 30001}]}'), /spec\.ports\[0\]\.nodePort: may only be set when type is NodePort or LoadBalancer/],
    ['externalTrafficPolicy on a ClusterIP service', service('{clusterIP: 10.96.0.6, externalTrafficPolicy: Local, ports: [{port: 80}]}'), /spec\.externalTrafficPolicy: may only be set/],
    ['clusterIP and clusterIPs disagree', service('{clusterIP: 10.96.0.6, clusterIPs: [10.96.0.7], ports: [{port: 80}]}'), /spec\.clusterIPs: clusterIPs\[0\] "10\.96\.0\.7" contradicts clusterIP "10\.96\.0\.6"/],
    ['two addresses of one family', service('{clusterIPs: [10.96.0.6, 10.96.0.7], ports: [{port: 80}]}'), /spec\.clusterIPs: two ipv4 addresses/],
    ['duplicate port', service('{clusterIP: 10.96.0.6, ports: [{name: a, port: 80}, {name: b, port: 80}]}'), /spec\.ports\[1\]\.port: duplicate TCP port 80/],
    ['bad external IP', service('{clusterIP: 10.96.0.6, externalIPs: ["1.2.3.4 }"], ports: [{port: 80}]}'), /spec\.externalIPs\[0\]: "1\.2\.3\.4 }" is not an IP address/],
    ['bad source range', service('{type: LoadBalancer, clusterIP: 10.96.0.6, loadBalancerSourceRanges: [10.0.0.0/33], ports: [{port: 80, nodePort: 30001}]}'), /spec\.loadBalancerSourceRanges\[0\]: "10\.0\.0\.0\/33" is not a CIDR/],
    ['affinity timeout out of range', service('{clusterIP: 10.96.0.6, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}'), /timeoutSeconds: must be an integer in 1-86400/],
    ['300-character name', service('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'a'.repeat(300)), /metadata\.name: "a{64}\.\.\." is not a valid DNS label/],
    ['name built to break an nft script', service('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'x" ; flush ruleset ; "'), /Service "default\/x\\" ; flush ruleset ; \\"" field metadata\.name: .* is not a valid DNS label/],
    ['port name built to break a comment', service('{clusterIP: 10.96.0.6, ports: [{name: "a\\" }", port: 80}]}'), /spec\.ports\[0\]\.name: .* is not a valid port name/],
    ['an externalIP equal to the Service\'s own clusterIP', service('{clusterIP: 10.96.0.6, externalIPs: [10.96.0.6], ports: [{port: 80}]}'), /Service default\/bad field spec\.ports: 10\.96\.0\.6 port 80\/TCP appears twice in this Service/],
    ['one NodePort on two ports of a Service', service('{type: NodePort, clusterIP: 10.96.0.6, ports: [{name: a, port: 80, nodePort: 30001}, {name: b, port: 81, nodePort: 30001}]}'), /spec\.ports\.nodePort: nodePort 30001\/TCP appears twice in this Service/],
    ['an IPv6 address with a zone', service('{clusterIP: "fe80::1%eth0", ports: [{port: 80}]}'), /spec\.clusterIP: "fe80::1%eth0" is not an IP address/],
    ['NodePort already used by another Service', `${service('{type: NodePort, clusterIP: 10.96.0.8, ports: [{port: 80, nodePort: 30001}]}', 'a')}${service('{type: NodePort, clusterIP: 10.96.0.7, ports: [{port: 81, nodePort: 30001}]}', 'b')}`, /Service default\/b field spec\.ports\.nodePort: nodePort 30001\/TCP is already used by Service default\/a/],
  ];
  for (const [name, yaml, want] of cases) {
    it(name, () => {
      const r = run(good + yaml);
      expect(r.messages.join('\n')).toMatch(want);
      expect(r.messages).toHaveLength(1);
      // The good service is still programmed.
      expect(r.script).toContain('10.96.0.5 . tcp . 80');
      // Nothing from the bad object reaches the script.
      expect(r.script).not.toMatch(/flush ruleset|10\.96\.0\.300|1\.2\.3\.4 }|10\.96\.0\.[67]\b/);
    });
  }
});

describe('bad EndpointSlices are skipped', () => {
  const slice = (body: string) => `---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: good-x, namespace: default, labels: {kubernetes.io/service-name: good}}\n${body}\n`;
  const cases: [string, string, RegExp][] = [
    ['address of the wrong family', slice('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["fd00::1"]}]'), /endpoints\[0\]\.addresses\[0\]: "fd00::1" is not an IPv4 address/],
    ['port out of range', slice('addressType: IPv4\nports: [{name: p, port: 0}]\nendpoints: [{addresses: ["10.244.1.5"]}]'), /ports\[0\]\.port: must be an integer in 1-65535, got 0/],
    ['condition not a boolean', slice('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5"], conditions: {ready: "yes"}}]'), /conditions\.ready: must be true or false/],
    ['unknown addressType', slice('addressType: IPv5\nports: [{name: p, port: 8080}]\nendpoints: []'), /addressType: must be IPv4, IPv6 or FQDN/],
  ];
  for (const [name, yaml, want] of cases) {
    it(name, () => {
      const r = run(good + yaml);
      expect(r.messages.join('\n')).toMatch(want);
      expect(r.messages[0]).toMatch(/^c\.yaml#2: EndpointSlice default\/good-x field /);
      // The service stays, now with no endpoints: rejected rather than lost.
      expect(r.script).toContain('10.96.0.5 . tcp . 80 comment "default/good:p/tcp" : goto reject-chain');
    });
  }
});

describe('manifests that are not YAML', () => {
  it('names the file and line', () => {
    expect(() => parseManifest('broken.yaml', 'apiVersion: v1\nkind: Service\nspec: {ports: [1,\n  x: }\n')).toThrow(ManifestError);
    expect(() => parseManifest('broken.yaml', 'apiVersion: v1\nkind: Service\nspec: {ports: [1,\n  x: }\n')).toThrow(/^broken\.yaml: line \d+: not valid YAML or JSON/);
  });
  it('rejects a document that is not an object', () => {
    expect(() => parseManifest('list.yaml', '- a\n- b\n')).toThrow(/list\.yaml#1: document is not a Kubernetes object/);
  });
  it('reads JSON, empty documents, kind: List and typed lists', () => {
    const objs = parseManifest('m.json', '{"apiVersion":"v1","kind":"ServiceList","items":[{"metadata":{"name":"a"}}]}');
    expect(objs).toEqual([{ source: 'm.json#1.items[0]', raw: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } } }]);
    expect(parseManifest('e.yaml', '---\n---\napiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Node, metadata: {name: n}}]\n')).toHaveLength(1);
  });
});

describe('an object updated into an invalid one', () => {
  it('keeps its last valid version programmed, and says so', () => {
    const tracker = new StateTracker({ nodeName: 'node-a' });
    const [v1] = parseManifest('a.yaml', good);
    tracker.upsert(v1!.source, v1!.raw);
    const [v2] = parseManifest('a.yaml', good.replace('port: 80', 'port: 80000'));
    tracker.upsert(v2!.source, v2!.raw);
    expect(tracker.issues().map(formatIssue)).toEqual([
      'a.yaml#1: Service default/good field spec.ports[0].port: must be an integer in 1-65535, got 80000 (the last valid version stays programmed)',
    ]);
    expect([...tracker.state().servicePorts.values()].map((p) => p.port)).toEqual([80]);
    // Deleting it still deletes it, and the problem goes with it; without a previous version it is simply skipped.
    tracker.remove(v2!.raw);
    expect(tracker.state().servicePorts.size).toBe(0);
    expect(tracker.issues()).toEqual([]);
    expect(buildState([v2!], { nodeName: 'node-a' }).state.servicePorts.size).toBe(0);
  });
});

describe('valid input at the edges', () => {
  it('a Service with the longest valid names renders a comment nft accepts (at most 128 characters)', () => {
    const ns = 'n'.repeat(63), name = 's'.repeat(63), port = 'p'.repeat(63);
    const r = run(`apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: {clusterIP: 10.96.0.9, ports: [{name: ${port}, port: 80}]}\n`);
    expect(r.issues).toEqual([]);
    const comments = [...r.script.matchAll(/comment "([^"]*)"/g)].map((m) => m[1]!);
    expect(comments.length).toBeGreaterThan(0);
    for (const c of comments) expect(c.length).toBeLessThanOrEqual(128);
  });

  it('a ClusterIP Service with externalIPs may set externalTrafficPolicy Local, and it applies (kube-proxy: externally accessible)', () => {
    const r = run(`apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: default}\nspec: {clusterIP: 10.96.0.9, externalIPs: [203.0.113.9], externalTrafficPolicy: Local, ports: [{port: 80}]}\n`);
    expect(r.issues).toEqual([]);
    expect([...r.state.servicePorts.values()][0]!.externalPolicyLocal).toBe(true);
  });
});
