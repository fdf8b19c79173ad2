// v1 Service -> ServicePorts per IP family, read field by field as kube-proxy
// reads them (pkg/proxy/serviceport.go, servicechangetracker.go): what it
// ignores is ignored with a note, what it defaults is defaulted. An object is
// refused only when it cannot be programmed safely: a value that does not
// parse or is out of range, a name that would reach the kernel, an unknown
// type or protocol, or addresses whose family is undecidable.
import { FieldError } from './issues.js';
import { parseCIDR, parseIP } from './addr.js';
import { arr, dnsLabel, int, obj, portName, protocol, str, type FieldNote, type Raw } from './fields.js';
import type { Cidr, Family, ServicePort } from './types.js';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
const DEFAULT_AFFINITY_TIMEOUT = 10800;
/** The longest timeout nft accepts for a set element (its milliseconds fit 32 bits). */
const MAX_AFFINITY_TIMEOUT = 4294967;

export type ServiceResult = { ignored: string } | { ports: ServicePort[]; notes: FieldNote[] };

type Addr = { family: Family; ip: string };

export function normalizeService(raw: Raw): ServiceResult {
  const meta = obj(raw.metadata, 'metadata');
  const name = dnsLabel(meta.name, 'metadata.name');
  const namespace = meta.namespace === undefined ? 'default' : dnsLabel(meta.namespace, 'metadata.namespace');
  const labels = obj(meta.labels, 'metadata.labels');
  // kube-proxy's informers select these away: it never sees such Services.
  for (const label of [SERVICE_PROXY_NAME_LABEL, HEADLESS_LABEL]) if (labels[label] !== undefined) return { ignored: `labelled ${label}` };
  const spec = obj(raw.spec, 'spec');
  const type = str(spec.type, 'spec.type', 'ClusterIP');
  if (type === 'ExternalName') return { ignored: 'type ExternalName' };
  if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(type)) {
    throw new FieldError('spec.type', `unknown type ${JSON.stringify(type)}`);
  }
  const notes: FieldNote[] = [];
  const note = (field: string, text: string) => notes.push({ field, note: text });
  const clusterIPs = readClusterIPs(spec, note);
  if (clusterIPs === 'headless') return { ignored: 'headless (clusterIP None)' };
  if (clusterIPs.size === 0) return { ignored: 'no clusterIP allocated' };
  const rawPorts = arr(spec.ports, 'spec.ports');
  if (rawPorts.length === 0) return { ignored: 'no ports (kube-proxy programs nothing for it)' };

  const externalIPs = arr(spec.externalIPs, 'spec.externalIPs').map((v, i) => ip(v, `spec.externalIPs[${i}]`));
  // kube-proxy's ExternallyAccessible (by type, or a ClusterIP Service with externalIPs) gates ETP Local.
  const externallyAccessible = type !== 'ClusterIP' || externalIPs.length > 0;
  const etp = str(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', '');
  if (etp !== '' && !externallyAccessible) {
    note('spec.externalTrafficPolicy', `ignored: it applies only to NodePort and LoadBalancer Services and to Services with externalIPs (kube-proxy ignores it too)`);
  } else if (!['', 'Cluster', 'Local'].includes(etp)) {
    note('spec.externalTrafficPolicy', `${JSON.stringify(etp)} is treated as Cluster, as kube-proxy treats anything but Local`);
  }
  const externalPolicyLocal = externallyAccessible && etp === 'Local';
  const itp = str(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', '');
  if (!['', 'Cluster', 'Local'].includes(itp)) note('spec.internalTrafficPolicy', `${JSON.stringify(itp)} is treated as Cluster, as kube-proxy treats anything but Local`);

  const affinityTimeout = readAffinity(spec, note);
  const healthCheckNodePort = readHealthCheckNodePort(spec, type === 'LoadBalancer' && externalPolicyLocal, note);
  const lbIPs = readIngress(obj(raw.status, 'status'), note);
  const sourceRanges = arr(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges').map((v, i) => {
    // A range that does not parse is refused, not dropped: dropping it would open the firewall wider.
    const c = parseCIDR(v);
    if (!c) throw new FieldError(`spec.loadBalancerSourceRanges[${i}]`, `${JSON.stringify(v)} is not a CIDR`);
    return c;
  });
  if (sourceRanges.length > 0 && lbIPs.length === 0) {
    note('spec.loadBalancerSourceRanges', 'has no effect: it filters load-balancer ingress IPs only, and this Service has none');
  }

  // kube-proxy keys ports by (name, protocol): a later port with the same key replaces the earlier one.
  const byKey = new Map<string, { index: number; name: string; protocol: ServicePort['protocol']; port: number; nodePort: number }>();
  const seen = new Map<string, number>();
  rawPorts.forEach((rp, i) => {
    const f = `spec.ports[${i}]`;
    const p = obj(rp, f);
    const pn = portName(p.name, `${f}.name`);
    const proto = protocol(p.protocol, `${f}.protocol`);
    const port = int(p.port, `${f}.port`, 1, 65535);
    const nodePort = int(p.nodePort, `${f}.nodePort`, 0, 65535, 0);
    if (nodePort !== 0 && type === 'ClusterIP') {
      note(`${f}.nodePort`, 'is programmed although the API server allows it only on NodePort and LoadBalancer Services, as kube-proxy programs it');
    }
    const key = `${pn}/${proto}`;
    const earlier = byKey.get(key);
    if (earlier) {
      note(f, `has the name ${JSON.stringify(pn)} and protocol ${proto.toUpperCase()} of spec.ports[${earlier.index}]: this later port is used, as in kube-proxy`);
      seen.delete(`${earlier.protocol}/${earlier.port}`);
    }
    const dup = seen.get(`${proto}/${port}`);
    if (dup !== undefined) throw new FieldError(`${f}.port`, `duplicate ${proto.toUpperCase()} port ${port} (also spec.ports[${dup}])`);
    seen.set(`${proto}/${port}`, i);
    byKey.set(key, { index: i, name: pn, protocol: proto, port, nodePort });
  });

  const inFamily = (ips: readonly Addr[], family: Family) => unique(ips.filter((x) => x.family === family).map((x) => x.ip));
  const ports: ServicePort[] = [];
  for (const p of byKey.values()) {
    for (const [family, clusterIP] of clusterIPs) {
      ports.push({
        // Joined, not templated: the id lives as long as the port, and a template literal's string is a tree of pieces.
        id: [namespace, '/', name, ':', p.name, '/', p.protocol, clusterIPs.size > 1 ? `/${family}` : ''].join(''),
        namespace, name, portName: p.name, family, protocol: p.protocol, port: p.port, clusterIP, nodePort: p.nodePort,
        externalIPs: inFamily(externalIPs, family),
        loadBalancerIPs: inFamily(lbIPs, family),
        loadBalancerSourceRanges: sourceRanges.filter((c: Cidr) => c.family === family),
        externalPolicyLocal,
        internalPolicyLocal: itp === 'Local',
        affinityTimeout,
        healthCheckNodePort,
      });
    }
  }
  return { ports, notes };
}

/**
 * kube-proxy's GetClusterIPByFamily: with ipFamilies, clusterIPs[i] is the
 * address of family ipFamilies[i]; without, clusterIP alone. svcrouter also
 * takes clusterIPs when clusterIP is empty (hand-written manifests), which
 * kube-proxy would skip. An address of the wrong family is undecidable.
 */
function readClusterIPs(spec: Raw, note: (field: string, text: string) => void): Map<Family, string> | 'headless' {
  const single = str(spec.clusterIP, 'spec.clusterIP', '');
  const list = arr(spec.clusterIPs, 'spec.clusterIPs').map((v, i) => str(v, `spec.clusterIPs[${i}]`));
  const families = arr(spec.ipFamilies, 'spec.ipFamilies').map((v, i) => str(v, `spec.ipFamilies[${i}]`));
  if (single === 'None' || list[0] === 'None') return 'headless';
  let chosen = list.map((text, i) => ({ text, field: `spec.clusterIPs[${i}]` }));
  if (chosen.length === 0 && single !== '') chosen = [{ text: single, field: 'spec.clusterIP' }];
  if (single !== '' && list.length > 0 && list[0] !== single) {
    if (families.length === 0) {
      chosen[0] = { text: single, field: 'spec.clusterIP' };
      note('spec.clusterIPs', `clusterIPs[0] ${JSON.stringify(list[0])} differs from clusterIP ${JSON.stringify(single)}: clusterIP is used, as kube-proxy does without ipFamilies`);
    } else {
      note('spec.clusterIP', `${JSON.stringify(single)} differs from clusterIPs[0] ${JSON.stringify(list[0])}: clusterIPs is used, as kube-proxy does with ipFamilies`);
    }
  }
  if (families.length > 0 && chosen.length > families.length) {
    note('spec.clusterIPs', `ignored beyond index ${families.length - 1}: ipFamilies names ${families.length} famil${families.length === 1 ? 'y' : 'ies'}, as kube-proxy reads it`);
    chosen = chosen.slice(0, families.length);
  }
  if (chosen.length > 2) throw new FieldError('spec.clusterIPs', 'at most two addresses (one per family)');
  const out = new Map<Family, string>();
  chosen.forEach(({ text, field }, i) => {
    const a = ip(text, field);
    if (families.length > 0) {
      const want = families[i] === 'IPv4' ? 'ipv4' : families[i] === 'IPv6' ? 'ipv6' : undefined;
      if (!want) throw new FieldError(`spec.ipFamilies[${i}]`, `unknown IP family ${JSON.stringify(families[i])} (want IPv4 or IPv6)`);
      if (want !== a.family) throw new FieldError(field, `${JSON.stringify(text)} is not an ${families[i]} address, as spec.ipFamilies[${i}] says`);
    }
    if (out.has(a.family)) throw new FieldError('spec.clusterIPs', `two ${a.family} addresses`);
    out.set(a.family, a.ip);
  });
  return out;
}

/** kube-proxy reads the timeout only for ClientIP affinity; any other mode means none. */
function readAffinity(spec: Raw, note: (field: string, text: string) => void): number {
  const mode = str(spec.sessionAffinity, 'spec.sessionAffinity', 'None');
  const cfg = obj(obj(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig').clientIP, 'spec.sessionAffinityConfig.clientIP');
  const field = 'spec.sessionAffinityConfig.clientIP.timeoutSeconds';
  if (mode === 'ClientIP') return int(cfg.timeoutSeconds, field, 1, MAX_AFFINITY_TIMEOUT, DEFAULT_AFFINITY_TIMEOUT);
  if (mode !== 'None' && mode !== '') note('spec.sessionAffinity', `${JSON.stringify(mode)} is not ClientIP: no affinity, as in kube-proxy`);
  else if (cfg.timeoutSeconds !== undefined) note(field, 'ignored: sessionAffinity is not ClientIP (kube-proxy ignores it too)');
  return 0;
}

/** kube-proxy's NeedsHealthCheck: only a LoadBalancer with externalTrafficPolicy Local has one. */
function readHealthCheckNodePort(spec: Raw, needed: boolean, note: (field: string, text: string) => void): number {
  const field = 'spec.healthCheckNodePort';
  const v = spec.healthCheckNodePort;
  if (!needed) {
    if (v !== undefined && v !== null && v !== 0) {
      int(v, field, -(2 ** 31), 2 ** 31 - 1); // still an integer, or the object does not decode at all
      note(field, 'ignored: only a LoadBalancer with externalTrafficPolicy Local has a health check (kube-proxy ignores it too)');
    }
    return 0;
  }
  const port = int(v, field, 0, 65535, 0);
  if (port === 0) note(field, 'is not set: no health check is served, as in kube-proxy');
  return port;
}

/** kube-proxy programs VIP-mode ingress IPs only, whatever the Service type. */
function readIngress(status: Raw, note: (field: string, text: string) => void): Addr[] {
  const lb = obj(status.loadBalancer, 'status.loadBalancer');
  const out: Addr[] = [];
  arr(lb.ingress, 'status.loadBalancer.ingress').forEach((ing, i) => {
    const f = `status.loadBalancer.ingress[${i}]`;
    const o = obj(ing, f);
    const text = str(o.ip, `${f}.ip`, '');
    const mode = str(o.ipMode, `${f}.ipMode`, 'VIP');
    if (text === '' || mode === 'Proxy') return; // hostname-only, or the LB proxies: not short-circuited
    if (mode !== 'VIP') {
      note(`${f}.ipMode`, `${JSON.stringify(mode)} is not VIP: this ingress IP is not programmed, as in kube-proxy`);
      return;
    }
    out.push(ip(text, `${f}.ip`));
  });
  return out;
}

function ip(v: unknown, field: string): Addr {
  const a = parseIP(v);
  if (!a) throw new FieldError(field, `${JSON.stringify(v)} is not an IP address`);
  return a;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
