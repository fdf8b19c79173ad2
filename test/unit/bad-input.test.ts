// Input as kube-proxy reads it: an object that cannot be programmed safely is
// reported with file, document, object and field, and skipped; a field
// kube-proxy ignores is ignored with a warning; everything else is programmed.
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

function run(yaml: string) {
  const objects = parseManifest('c.yaml', yaml);
  const r = buildState(objects, { nodeName: 'node-a' });
  return { ...r, script: renderTables(desiredTables(r.state, { ...DEFAULT_CONFIG, hostname: 'node-a' })), messages: r.issues.map(formatIssue) };
}

/**
 * Every field check in state/, one row each: what svcrouter does with the
 * object, and the kube-proxy behaviour the row mirrors. Outcomes:
 *  - skip: cannot be programmed safely; one error naming the field; nothing of it programmed.
 *  - note: programmed as kube-proxy programs it; one warning naming the field and what was done.
 *  - ignore: not a proxy's object (kube-proxy never sees or serves it); one warning line.
 *  - program: programmed, no message.
 * `has` / `lacks`: text the rendered script must / must not contain.
 */
interface Row {
  readonly name: string;
  readonly kubeProxy: string;
  readonly objects: string;
  readonly outcome: 'skip' | 'note' | 'ignore' | 'program';
  readonly message?: RegExp;
  readonly has?: readonly string[];
  readonly lacks?: readonly string[];
}

const svc = (spec: string, name = 'x', extra = '') => `---\napiVersion: v1\nkind: Service\nmetadata: {name: ${JSON.stringify(name)}, namespace: default${extra}}\nspec: ${spec}\n`;
const withStatus = (spec: string, ingress: string) => `${svc(spec)}status: {loadBalancer: {ingress: ${ingress}}}\n`;
const eps = (body: string, labels = '{kubernetes.io/service-name: good}') => `---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: good-x, namespace: default, labels: ${labels}}\n${body}\n`;
const nodeObj = (body: string) => `---\napiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n${body}\n`;
const LB = '{type: LoadBalancer, clusterIP: 10.96.0.6, ports: [{port: 80, nodePort: 30001}]';
/** One local endpoint for Service x, so that its traffic is dispatched rather than rejected. */
const X_EP = '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: x-1, namespace: default, labels: {kubernetes.io/service-name: x}}\naddressType: IPv4\nports: [{name: "", port: 8080}]\nendpoints: [{addresses: ["10.244.1.9"], nodeName: node-a}]\n';
const ONE_EP = 'addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5"]}]';

const ROWS: Row[] = [
  // --- Service: identity and kind
  { name: 'a name built to break an nft script', kubeProxy: 'never sees one: the API server refuses it; names reach nft comments here', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'x" ; flush ruleset ; "'), outcome: 'skip', message: /Service "default\/x\\" ; flush ruleset ; \\"" field metadata\.name: .* is not a valid DNS label/, lacks: ['flush ruleset', '10.96.0.6'] },
  { name: 'a 300-character name', kubeProxy: 'never sees one (API validation)', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'a'.repeat(300)), outcome: 'skip', message: /metadata\.name: "a{64}\.\.\." is not a valid DNS label/, lacks: ['10.96.0.6'] },
  { name: 'an invalid namespace', kubeProxy: 'never sees one (API validation)', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'x').replace('namespace: default', 'namespace: "Bad NS"'), outcome: 'skip', message: /metadata\.namespace: "Bad NS" is not a valid DNS label/, lacks: ['10.96.0.6'] },
  { name: 'labelled with another service proxy\'s name', kubeProxy: 'its informer selects !service.kubernetes.io/service-proxy-name', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'x', ', labels: {service.kubernetes.io/service-proxy-name: other}'), outcome: 'ignore', message: /Service default\/x ignored: labelled service\.kubernetes\.io\/service-proxy-name/, lacks: ['10.96.0.6'] },
  { name: 'labelled headless', kubeProxy: 'its informer selects !service.kubernetes.io/headless for Services too', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}]}', 'x', ', labels: {service.kubernetes.io/headless: ""}'), outcome: 'ignore', message: /ignored: labelled service\.kubernetes\.io\/headless/, lacks: ['10.96.0.6'] },
  { name: 'type ExternalName', kubeProxy: 'ShouldSkipService', objects: svc('{type: ExternalName, externalName: example.com, clusterIP: 10.96.0.6, ports: [{port: 80}]}'), outcome: 'ignore', message: /ignored: type ExternalName/, lacks: ['10.96.0.6'] },
  { name: 'an unknown type', kubeProxy: 'undecidable: which entry points would it have?', objects: svc('{type: Magic, clusterIP: 10.96.0.6, ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.type: unknown type "Magic"/, lacks: ['10.96.0.6'] },
  // --- Service: cluster IPs
  { name: 'clusterIP None', kubeProxy: 'ShouldSkipService (headless)', objects: svc('{clusterIP: None, ports: [{port: 80}]}'), outcome: 'ignore', message: /ignored: headless/ },
  { name: 'no clusterIP at all', kubeProxy: 'ShouldSkipService (IP not set)', objects: svc('{ports: [{port: 80}]}'), outcome: 'ignore', message: /ignored: no clusterIP allocated/ },
  { name: 'an invalid clusterIP', kubeProxy: 'would program garbage; svcrouter cannot', objects: svc('{clusterIP: 10.96.0.300, ports: [{port: 80}]}'), outcome: 'skip', message: /c\.yaml#2: Service default\/x field spec\.clusterIP: "10\.96\.0\.300" is not an IP address/, lacks: ['10.96.0.300'] },
  { name: 'an octal-looking clusterIP (ipaddr.js alone would accept it)', kubeProxy: 'ParseIPSloppy reads it differently: undecidable', objects: svc('{clusterIP: 010.96.0.1, ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.clusterIP: "010\.96\.0\.1" is not an IP address/ },
  { name: 'an IPv6 clusterIP with a zone', kubeProxy: 'not an address it can program', objects: svc('{clusterIP: "fe80::1%eth0", ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.clusterIP: "fe80::1%eth0" is not an IP address/ },
  { name: 'clusterIP and clusterIPs disagree, without ipFamilies', kubeProxy: 'GetClusterIPByFamily reads clusterIP when ipFamilies is empty', objects: svc('{clusterIP: 10.96.0.6, clusterIPs: [10.96.0.7], ports: [{port: 80}]}'), outcome: 'note', message: /spec\.clusterIPs clusterIPs\[0\] "10\.96\.0\.7" differs from clusterIP "10\.96\.0\.6": clusterIP is used/, has: ['10.96.0.6 . tcp . 80'], lacks: ['10.96.0.7'] },
  { name: 'clusterIP and clusterIPs disagree, with ipFamilies', kubeProxy: 'GetClusterIPByFamily reads clusterIPs[i] for ipFamilies[i]', objects: svc('{clusterIP: 10.96.0.6, clusterIPs: [10.96.0.7], ipFamilies: [IPv4], ports: [{port: 80}]}'), outcome: 'note', message: /spec\.clusterIP "10\.96\.0\.6" differs from clusterIPs\[0\] "10\.96\.0\.7": clusterIPs is used/, has: ['10.96.0.7 . tcp . 80'], lacks: ['10.96.0.6'] },
  { name: 'clusterIPs without clusterIP (a hand-written dual-stack Service)', kubeProxy: 'skips it (IsServiceIPSet reads clusterIP); svcrouter is more lenient and serves what the API server would have defaulted', objects: svc('{clusterIPs: [10.96.0.6, "fd00:96::6"], ports: [{port: 80}]}'), outcome: 'program', has: ['10.96.0.6 . tcp . 80', 'fd00:96::6 . tcp . 80'] },
  { name: 'more clusterIPs than ipFamilies', kubeProxy: 'reads only the indexes ipFamilies names', objects: svc('{clusterIPs: [10.96.0.6, "fd00:96::6"], ipFamilies: [IPv4], ports: [{port: 80}]}'), outcome: 'note', message: /spec\.clusterIPs ignored beyond index 0/, has: ['10.96.0.6 . tcp . 80'], lacks: ['fd00:96::6'] },
  { name: 'an ipFamilies entry contradicting its address', kubeProxy: 'would program an IPv6 address in its IPv4 table: undecidable', objects: svc('{clusterIPs: ["fd00:96::6"], ipFamilies: [IPv4], ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.clusterIPs\[0\]: "fd00:96::6" is not an IPv4 address, as spec\.ipFamilies\[0\] says/ },
  { name: 'an unknown IP family', kubeProxy: 'matches no proxier: serves nothing', objects: svc('{clusterIPs: [10.96.0.6], ipFamilies: [IPv5], ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.ipFamilies\[0\]: unknown IP family "IPv5"/, lacks: ['10.96.0.6'] },
  { name: 'two addresses of one family', kubeProxy: 'undecidable which one its single-family proxier would take', objects: svc('{clusterIPs: [10.96.0.6, 10.96.0.7], ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.clusterIPs: two ipv4 addresses/, lacks: ['10.96.0.6', '10.96.0.7'] },
  { name: 'three clusterIPs', kubeProxy: 'at most one per family exists', objects: svc('{clusterIPs: [10.96.0.6, "fd00:96::6", 10.96.0.7], ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.clusterIPs: at most two addresses/ },
  // --- Service: ports
  { name: 'no ports', kubeProxy: 'builds no service port: programs nothing', objects: svc('{clusterIP: 10.96.0.6, ports: []}'), outcome: 'ignore', message: /ignored: no ports/, lacks: ['10.96.0.6'] },
  { name: 'a port out of range', kubeProxy: 'cannot be programmed', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 70000}]}'), outcome: 'skip', message: /spec\.ports\[0\]\.port: must be an integer in 1-65535, got 70000/, lacks: ['10.96.0.6'] },
  { name: 'a port that is not a number', kubeProxy: 'the object does not decode', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: "80; drop"}]}'), outcome: 'skip', message: /spec\.ports\[0\]\.port: must be an integer/, lacks: ['10.96.0.6', '80; drop'] },
  { name: 'an unknown protocol', kubeProxy: 'cannot be programmed', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80, protocol: ICMP}]}'), outcome: 'skip', message: /spec\.ports\[0\]\.protocol: unknown protocol "ICMP"/, lacks: ['10.96.0.6'] },
  { name: 'a port name built to break a comment', kubeProxy: 'never sees one (API validation); port names reach nft comments here', objects: svc('{clusterIP: 10.96.0.6, ports: [{name: "a\\" }", port: 80}]}'), outcome: 'skip', message: /spec\.ports\[0\]\.name: .* is not a valid port name/, lacks: ['10.96.0.6'] },
  { name: 'two unnamed ports of different protocols', kubeProxy: 'keys ports by (name, protocol): both are kept', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}'), outcome: 'program', has: ['10.96.0.6 . udp . 53', '10.96.0.6 . tcp . 53'] },
  { name: 'two ports with one name and protocol', kubeProxy: 'keys ports by (name, protocol): the later one replaces the earlier', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80}, {port: 81}]}'), outcome: 'note', message: /spec\.ports\[1\] has the name "" and protocol TCP of spec\.ports\[0\]: this later port is used/, has: ['10.96.0.6 . tcp . 81'], lacks: ['10.96.0.6 . tcp . 80'] },
  { name: 'one port number twice', kubeProxy: 'would write one map key twice and fail its whole sync', objects: svc('{clusterIP: 10.96.0.6, ports: [{name: a, port: 80}, {name: b, port: 80}]}'), outcome: 'skip', message: /spec\.ports\[1\]\.port: duplicate TCP port 80 \(also spec\.ports\[0\]\)/, lacks: ['10.96.0.6'] },
  { name: 'a nodePort on a ClusterIP Service', kubeProxy: 'programs every non-zero nodePort, whatever the type', objects: svc('{clusterIP: 10.96.0.6, ports: [{port: 80, nodePort: 30001}]}'), outcome: 'note', message: /spec\.ports\[0\]\.nodePort is programmed although the API server allows it only on NodePort and LoadBalancer Services/, has: ['10.96.0.6 . tcp . 80', 'tcp . 30001'] },
  { name: 'a nodePort out of range', kubeProxy: 'cannot be programmed', objects: svc('{type: NodePort, clusterIP: 10.96.0.6, ports: [{port: 80, nodePort: 70000}]}'), outcome: 'skip', message: /spec\.ports\[0\]\.nodePort: must be an integer in 0-65535, got 70000/, lacks: ['10.96.0.6'] },
  // --- Service: traffic policies
  { name: 'externalTrafficPolicy Local on a ClusterIP Service', kubeProxy: 'ExternalPolicyLocal is false unless externally accessible', objects: svc('{clusterIP: 10.96.0.6, externalTrafficPolicy: Local, ports: [{port: 80}]}'), outcome: 'note', message: /spec\.externalTrafficPolicy ignored: it applies only to NodePort and LoadBalancer Services and to Services with externalIPs/, has: ['10.96.0.6 . tcp . 80'] },
  { name: 'externalTrafficPolicy Local on a ClusterIP Service with externalIPs', kubeProxy: 'ExternallyAccessible: a ClusterIP Service with externalIPs', objects: svc('{clusterIP: 10.96.0.6, externalIPs: [203.0.113.9], externalTrafficPolicy: Local, ports: [{port: 80}]}') + X_EP, outcome: 'program', has: ['service-ips-external-local { 203.0.113.9 . tcp . 80 comment "default/x:/tcp"'] },
  { name: 'an unknown externalTrafficPolicy', kubeProxy: 'only "Local" changes anything', objects: svc(`${LB}, externalTrafficPolicy: Nearby}`) + X_EP, outcome: 'note', message: /spec\.externalTrafficPolicy "Nearby" is treated as Cluster/, has: ['service-nodeports-nodeport-cluster { tcp . 30001 comment "default/x:/tcp"'] },
  { name: 'an unknown internalTrafficPolicy', kubeProxy: 'only "Local" changes anything', objects: svc('{clusterIP: 10.96.0.6, internalTrafficPolicy: Nearby, ports: [{port: 80}]}'), outcome: 'note', message: /spec\.internalTrafficPolicy "Nearby" is treated as Cluster/, has: ['10.96.0.6 . tcp . 80'] },
  // --- Service: health check
  { name: 'a healthCheckNodePort on an ETP Cluster LoadBalancer', kubeProxy: 'reads it only when NeedsHealthCheck (LoadBalancer, ETP Local)', objects: svc(`${LB}, externalTrafficPolicy: Cluster, healthCheckNodePort: 32000}`), outcome: 'note', message: /spec\.healthCheckNodePort ignored: only a LoadBalancer with externalTrafficPolicy Local has a health check/, has: ['10.96.0.6 . tcp . 80', 'tcp . 30001'] },
  { name: 'a healthCheckNodePort out of range where it is not read', kubeProxy: 'never reads it', objects: svc(`${LB}, healthCheckNodePort: 99999}`), outcome: 'note', message: /spec\.healthCheckNodePort ignored/, has: ['10.96.0.6 . tcp . 80'] },
  { name: 'no healthCheckNodePort on an ETP Local LoadBalancer', kubeProxy: 'logs "Service has no healthcheck nodeport" and programs it', objects: svc(`${LB}, externalTrafficPolicy: Local}`) + X_EP, outcome: 'note', message: /spec\.healthCheckNodePort is not set: no health check is served/, has: ['service-nodeports-nodeport-local { tcp . 30001 comment "default/x:/tcp"'] },
  { name: 'a healthCheckNodePort out of range where it is read', kubeProxy: 'would open a port that cannot exist', objects: svc(`${LB}, externalTrafficPolicy: Local, healthCheckNodePort: 70000}`), outcome: 'skip', message: /spec\.healthCheckNodePort: must be an integer in 0-65535, got 70000/, lacks: ['10.96.0.6'] },
  // --- Service: affinity
  { name: 'an unknown sessionAffinity', kubeProxy: 'affinity only for ClientIP', objects: svc('{clusterIP: 10.96.0.6, sessionAffinity: Sticky, ports: [{port: 80}]}') + X_EP, outcome: 'note', message: /spec\.sessionAffinity "Sticky" is not ClientIP: no affinity/, has: ['service-ips-vip-dispatch { 10.96.0.6 . tcp . 80 comment "default/x:/tcp"', 'add chain ip svcrouter vip-1\n'], lacks: ['affinity'] },
  { name: 'a timeout without ClientIP affinity', kubeProxy: 'reads the timeout only for ClientIP', objects: svc('{clusterIP: 10.96.0.6, sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}, ports: [{port: 80}]}') + X_EP, outcome: 'note', message: /timeoutSeconds ignored: sessionAffinity is not ClientIP/, has: ['service-ips-vip-dispatch { 10.96.0.6 . tcp . 80 comment "default/x:/tcp"', 'add chain ip svcrouter vip-1\n'], lacks: ['affinity'] },
  { name: 'an affinity timeout of 0', kubeProxy: 'would program a timeout nft refuses', objects: svc('{clusterIP: 10.96.0.6, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}'), outcome: 'skip', message: /timeoutSeconds: must be an integer in 1-4294967, got 0/, lacks: ['10.96.0.6'] },
  { name: 'an affinity timeout over the API server\'s day', kubeProxy: 'programs the timeout it is given', objects: svc('{clusterIP: 10.96.0.6, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 172800}}, ports: [{port: 80}]}') + X_EP, outcome: 'program', has: ['timeout 172800s'] },
  // --- Service: external addresses and source ranges
  { name: 'an invalid external IP', kubeProxy: 'drops what does not parse; svcrouter refuses rather than guess what was meant', objects: svc('{clusterIP: 10.96.0.6, externalIPs: ["1.2.3.4 }"], ports: [{port: 80}]}'), outcome: 'skip', message: /spec\.externalIPs\[0\]: "1\.2\.3\.4 }" is not an IP address/, lacks: ['1.2.3.4 }', '10.96.0.6'] },
  { name: 'an invalid ingress IP', kubeProxy: 'drops what does not parse; svcrouter refuses rather than guess', objects: withStatus(`${LB}}`, '[{ip: 198.51.100.300}]'), outcome: 'skip', message: /status\.loadBalancer\.ingress\[0\]\.ip: "198\.51\.100\.300" is not an IP address/, lacks: ['10.96.0.6'] },
  { name: 'an unknown ingress ipMode', kubeProxy: 'IsVIPMode: only VIP (or unset) ingress IPs are programmed', objects: withStatus(`${LB}}`, '[{ip: 198.51.100.7, ipMode: Tunnel}]'), outcome: 'note', message: /status\.loadBalancer\.ingress\[0\]\.ipMode "Tunnel" is not VIP: this ingress IP is not programmed/, has: ['10.96.0.6 . tcp . 80'], lacks: ['198.51.100.7'] },
  { name: 'an ingress IP with ipMode Proxy', kubeProxy: 'IsVIPMode false: not programmed', objects: withStatus(`${LB}}`, '[{ip: 198.51.100.7, ipMode: Proxy}]'), outcome: 'program', has: ['10.96.0.6 . tcp . 80'], lacks: ['198.51.100.7'] },
  { name: 'an invalid source range', kubeProxy: 'drops it, which opens the firewall wider: svcrouter refuses', objects: svc(`${LB}, loadBalancerSourceRanges: [10.0.0.0/33]}`), outcome: 'skip', message: /spec\.loadBalancerSourceRanges\[0\]: "10\.0\.0\.0\/33" is not a CIDR/, lacks: ['10.96.0.6'] },
  { name: 'source ranges on a Service without ingress IPs', kubeProxy: 'reads them for any type, and applies them to ingress IPs only', objects: svc('{clusterIP: 10.96.0.6, loadBalancerSourceRanges: [192.0.2.0/24], ports: [{port: 80}]}'), outcome: 'note', message: /spec\.loadBalancerSourceRanges has no effect: it filters load-balancer ingress IPs only, and this Service has none/, has: ['10.96.0.6 . tcp . 80'], lacks: ['192.0.2.0/24'] },
  { name: 'source ranges (padded) on a ClusterIP Service with an ingress IP', kubeProxy: 'trims them, and filters ingress IPs whatever the type', objects: withStatus('{clusterIP: 10.96.0.6, loadBalancerSourceRanges: [" 192.0.2.0/24 "], ports: [{port: 80}]}', '[{ip: 198.51.100.7}]'), outcome: 'program', has: ['198.51.100.7 . tcp . 80 . 192.0.2.0/24'] },
  // --- Service: clashes
  { name: 'an externalIP equal to the Service\'s own clusterIP', kubeProxy: 'would write one map key twice and fail its whole sync', objects: svc('{clusterIP: 10.96.0.6, externalIPs: [10.96.0.6], ports: [{port: 80}]}'), outcome: 'skip', message: /Service default\/x field spec\.ports: 10\.96\.0\.6 port 80\/TCP appears twice in this Service/, lacks: ['10.96.0.6'] },
  { name: 'one NodePort on two ports of a Service', kubeProxy: 'would write one map key twice and fail its whole sync', objects: svc('{type: NodePort, clusterIP: 10.96.0.6, ports: [{name: a, port: 80, nodePort: 30001}, {name: b, port: 81, nodePort: 30001}]}'), outcome: 'skip', message: /spec\.ports\.nodePort: nodePort 30001\/TCP appears twice in this Service/, lacks: ['10.96.0.6'] },
  { name: 'a NodePort already used by another Service', kubeProxy: 'would fail its whole sync; svcrouter keeps the first in name order', objects: `${svc('{type: NodePort, clusterIP: 10.96.0.8, ports: [{port: 80, nodePort: 30001}]}', 'a')}${svc('{type: NodePort, clusterIP: 10.96.0.7, ports: [{port: 81, nodePort: 30001}]}', 'b')}`, outcome: 'skip', message: /Service default\/b field spec\.ports\.nodePort: nodePort 30001\/TCP is already used by Service default\/a/, has: ['10.96.0.8 . tcp . 80'], lacks: ['10.96.0.7'] },
  // --- EndpointSlice
  { name: 'a slice of another service proxy', kubeProxy: 'its informer selects !service.kubernetes.io/service-proxy-name', objects: eps(ONE_EP, '{kubernetes.io/service-name: good, service.kubernetes.io/service-proxy-name: other}'), outcome: 'ignore', message: /EndpointSlice default\/good-x ignored: labelled service\.kubernetes\.io\/service-proxy-name/, lacks: ['10.244.1.5'] },
  { name: 'a slice without a service-name label', kubeProxy: 'endpointSliceCacheKeys fails: ignored', objects: eps(ONE_EP, '{app: good}'), outcome: 'ignore', message: /ignored: no kubernetes\.io\/service-name label/, lacks: ['10.244.1.5'] },
  { name: 'an FQDN slice', kubeProxy: 'serves IPv4 and IPv6 slices only', objects: eps('addressType: FQDN\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["db.example.com"]}]'), outcome: 'ignore', message: /ignored: addressType "FQDN"/ },
  { name: 'an unknown addressType', kubeProxy: 'serves IPv4 and IPv6 slices only', objects: eps('addressType: IPv5\nports: [{name: p, port: 8080}]\nendpoints: []'), outcome: 'ignore', message: /ignored: addressType "IPv5"/ },
  { name: 'a slice port without a number', kubeProxy: '"Ignoring invalid endpoint port"', objects: eps('addressType: IPv4\nports: [{name: p, port: 0}]\nendpoints: [{addresses: ["10.244.1.5"]}]'), outcome: 'note', message: /EndpointSlice default\/good-x: ports\[0\]\.port is not set: this port is ignored/, has: ['no-endpoint-services-reject-chain { 10.96.0.5 . tcp . 80 comment "default/good:p/tcp"'] },
  { name: 'a slice port out of range', kubeProxy: 'cannot be programmed', objects: eps('addressType: IPv4\nports: [{name: p, port: 70000}]\nendpoints: [{addresses: ["10.244.1.5"]}]'), outcome: 'skip', message: /EndpointSlice default\/good-x field ports\[0\]\.port: must be an integer in 0-65535, got 70000/, lacks: ['10.244.1.5'] },
  { name: 'an unknown slice protocol', kubeProxy: 'cannot be programmed', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080, protocol: ICMP}]\nendpoints: [{addresses: ["10.244.1.5"]}]'), outcome: 'skip', message: /ports\[0\]\.protocol: unknown protocol "ICMP"/ },
  { name: 'an endpoint of the other family', kubeProxy: 'ignores the endpoint and emits an event', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["fd00::1"]}, {addresses: ["10.244.1.5"]}]'), outcome: 'note', message: /endpoints\[0\]\.addresses\[0\] "fd00::1" is not an IPv4 address: this endpoint is ignored/, has: ['10.244.1.5 . 8080'], lacks: ['fd00::1'] },
  { name: 'an endpoint address that does not parse', kubeProxy: 'would program garbage', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5; flush"]}]'), outcome: 'skip', message: /endpoints\[0\]\.addresses\[0\]: "10\.244\.1\.5; flush" is not an IP address/, lacks: ['flush'] },
  { name: 'an endpoint without addresses', kubeProxy: '"Ignoring invalid endpoint port with empty address"', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: []}, {addresses: ["10.244.1.5"]}]'), outcome: 'program', has: ['10.244.1.5 . 8080'] },
  { name: 'a condition that is not a boolean', kubeProxy: 'the object does not decode', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5"], conditions: {ready: "yes"}}]'), outcome: 'skip', message: /conditions\.ready: must be true or false/ },
  { name: 'unset conditions', kubeProxy: 'ready and serving default to true, terminating to false', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5"], conditions: {}}]'), outcome: 'program', has: ['10.244.1.5 . 8080'] },
  { name: 'a hint that is not a name', kubeProxy: 'the object does not decode', objects: eps('addressType: IPv4\nports: [{name: p, port: 8080}]\nendpoints: [{addresses: ["10.244.1.5"], hints: {forZones: [{name: 5}]}}]'), outcome: 'skip', message: /hints\.forZones\[0\]\.name: must be a string/ },
  // --- Node and ServiceCIDR
  { name: 'a Node address that does not parse', kubeProxy: 'would pick no node IP from it; svcrouter keeps the last valid Node', objects: nodeObj('status: {addresses: [{type: InternalIP, address: 192.168.1.300}]}'), outcome: 'skip', message: /Node node-a field status\.addresses\[0\]\.address: "192\.168\.1\.300" is not an IP address/ },
  { name: 'a Node podCIDR that does not parse', kubeProxy: 'cannot build its NodeCIDR detector from it', objects: nodeObj('spec: {podCIDRs: [10.244.1.0/33]}'), outcome: 'skip', message: /spec\.podCIDRs\[0\]: "10\.244\.1\.0\/33" is not a CIDR/ },
  { name: 'a ServiceCIDR that does not parse', kubeProxy: 'cannot program its drop rule from it', objects: '---\napiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: k}\nspec: {cidrs: [10.96.0.0/40]}\n', outcome: 'skip', message: /ServiceCIDR k field spec\.cidrs\[0\]: "10\.96\.0\.0\/40" is not a CIDR/ },
];

describe('every field check in state/, as kube-proxy reads the field', () => {
  for (const row of ROWS) {
    it(`${row.name}: ${row.outcome} (kube-proxy: ${row.kubeProxy})`, () => {
      const r = run(good + row.objects);
      const want = row.message ?? /^$/;
      if (row.outcome === 'skip') {
        expect(r.messages).toHaveLength(1);
        expect(r.messages[0]).toMatch(want);
      } else {
        expect(r.messages).toEqual([]);
      }
      const notes = r.notes.join('\n');
      const ignored = r.ignored.join('\n');
      if (row.outcome === 'note') {
        expect(r.notes).toHaveLength(1);
        expect(notes).toMatch(want);
      } else {
        expect(notes).toBe('');
      }
      if (row.outcome === 'ignore') expect(ignored).toMatch(want);
      else expect(ignored).toBe('');
      // The good service is always programmed.
      expect(r.script).toContain('10.96.0.5 . tcp . 80');
      for (const text of row.has ?? []) expect(r.script).toContain(text);
      for (const text of row.lacks ?? []) expect(r.script).not.toContain(text);
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
