// v1 Service -> ServicePorts per IP family, with kube-proxy's filters
// (ExternalName, headless, service-proxy-name) and strict validation.
import { FieldError } from './issues.js';
import { parseCIDR, parseIP } from './addr.js';
import { arr, dnsLabel, int, obj, portName, protocol, str, type Raw } from './fields.js';
import type { Cidr, Family, ServicePort } from './types.js';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
const DEFAULT_AFFINITY_TIMEOUT = 10800;

export type ServiceResult = { ignored: string } | { ports: ServicePort[] };

export function normalizeService(raw: Raw): ServiceResult {
  const meta = obj(raw.metadata, 'metadata');
  const name = dnsLabel(meta.name, 'metadata.name');
  const namespace = meta.namespace === undefined ? 'default' : dnsLabel(meta.namespace, 'metadata.namespace');
  const labels = obj(meta.labels, 'metadata.labels');
  if (labels[SERVICE_PROXY_NAME_LABEL] !== undefined) return { ignored: `labelled ${SERVICE_PROXY_NAME_LABEL}` };
  const spec = obj(raw.spec, 'spec');
  const type = str(spec.type, 'spec.type', 'ClusterIP');
  if (type === 'ExternalName') return { ignored: 'type ExternalName' };
  if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(type)) {
    throw new FieldError('spec.type', `unknown type ${JSON.stringify(type)}`);
  }
  const clusterIPs = readClusterIPs(spec);
  if (clusterIPs === 'headless') return { ignored: 'headless (clusterIP None)' };
  if (clusterIPs.size === 0) return { ignored: 'no clusterIP allocated' };

  const external = type === 'NodePort' || type === 'LoadBalancer';
  // kube-proxy's ExternallyAccessible: a ClusterIP Service with externalIPs counts too.
  const externallyAccessible = external || arr(spec.externalIPs, 'spec.externalIPs').length > 0;
  const etp = str(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', '');
  if (etp !== '' && !externallyAccessible) {
    throw new FieldError('spec.externalTrafficPolicy', `may only be set on an externally accessible Service (NodePort, LoadBalancer, or with externalIPs; type is ${type})`);
  }
  if (!['', 'Cluster', 'Local'].includes(etp)) throw new FieldError('spec.externalTrafficPolicy', `must be Cluster or Local, got ${JSON.stringify(etp)}`);
  const itp = str(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', 'Cluster');
  if (!['Cluster', 'Local'].includes(itp)) throw new FieldError('spec.internalTrafficPolicy', `must be Cluster or Local, got ${JSON.stringify(itp)}`);

  const affinityTimeout = readAffinity(spec);
  const healthCheckNodePort = int(spec.healthCheckNodePort, 'spec.healthCheckNodePort', 0, 65535, 0);
  if (healthCheckNodePort !== 0 && !(type === 'LoadBalancer' && etp === 'Local')) {
    throw new FieldError('spec.healthCheckNodePort', 'may only be set for a LoadBalancer with externalTrafficPolicy Local');
  }
  const externalIPs = arr(spec.externalIPs, 'spec.externalIPs').map((v, i) => ip(v, `spec.externalIPs[${i}]`));
  const lbIPs = readIngress(obj(raw.status, 'status'));
  const sourceRanges = arr(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges').map((v, i) => {
    const c = parseCIDR(v);
    if (!c) throw new FieldError(`spec.loadBalancerSourceRanges[${i}]`, `${JSON.stringify(v)} is not a CIDR`);
    return c;
  });
  if (sourceRanges.length > 0 && type !== 'LoadBalancer') {
    throw new FieldError('spec.loadBalancerSourceRanges', `may only be set when type is LoadBalancer (type is ${type})`);
  }

  const rawPorts = arr(spec.ports, 'spec.ports');
  if (rawPorts.length === 0) throw new FieldError('spec.ports', 'a Service with a clusterIP needs at least one port');
  const seen = new Set<string>();
  const names = new Set<string>();
  const ports: ServicePort[] = [];
  rawPorts.forEach((rp, i) => {
    const f = `spec.ports[${i}]`;
    const p = obj(rp, f);
    const pn = portName(p.name, `${f}.name`);
    if (rawPorts.length > 1 && pn === '') throw new FieldError(`${f}.name`, 'must be set when a Service has more than one port');
    if (names.has(pn)) throw new FieldError(`${f}.name`, `duplicate port name ${JSON.stringify(pn)}`);
    names.add(pn);
    const proto = protocol(p.protocol, `${f}.protocol`);
    const port = int(p.port, `${f}.port`, 1, 65535);
    const nodePort = int(p.nodePort, `${f}.nodePort`, 0, 65535, 0);
    if (nodePort !== 0 && !external) throw new FieldError(`${f}.nodePort`, `may only be set when type is NodePort or LoadBalancer (type is ${type})`);
    const key = `${proto}/${port}`;
    if (seen.has(key)) throw new FieldError(`${f}.port`, `duplicate ${proto.toUpperCase()} port ${port}`);
    seen.add(key);
    for (const [family, clusterIP] of clusterIPs) {
      const inFamily = (ips: readonly { family: Family; ip: string }[]) => ips.filter((x) => x.family === family).map((x) => x.ip);
      ports.push({
        id: `${namespace}/${name}:${pn}/${proto}${clusterIPs.size > 1 ? `/${family}` : ''}`,
        namespace, name, portName: pn, family, protocol: proto, port, clusterIP, nodePort,
        externalIPs: unique(inFamily(externalIPs)),
        loadBalancerIPs: unique(inFamily(lbIPs)),
        loadBalancerSourceRanges: sourceRanges.filter((c: Cidr) => c.family === family),
        externalPolicyLocal: externallyAccessible && etp === 'Local',
        internalPolicyLocal: itp === 'Local',
        affinityTimeout,
        healthCheckNodePort,
      });
    }
  });
  return { ports };
}

function readClusterIPs(spec: Raw): Map<Family, string> | 'headless' {
  const single = str(spec.clusterIP, 'spec.clusterIP', '');
  const list = arr(spec.clusterIPs, 'spec.clusterIPs').map((v, i) => str(v, `spec.clusterIPs[${i}]`));
  if (single === 'None' || list[0] === 'None') return 'headless';
  if (single !== '' && list.length > 0 && list[0] !== single) {
    throw new FieldError('spec.clusterIPs', `clusterIPs[0] ${JSON.stringify(list[0])} contradicts clusterIP ${JSON.stringify(single)}`);
  }
  const all = list.length > 0 ? list : single === '' ? [] : [single];
  if (all.length > 2) throw new FieldError('spec.clusterIPs', 'at most two addresses (one per family)');
  const out = new Map<Family, string>();
  all.forEach((v, i) => {
    const a = ip(v, list.length > 0 ? `spec.clusterIPs[${i}]` : 'spec.clusterIP');
    if (out.has(a.family)) throw new FieldError('spec.clusterIPs', `two ${a.family} addresses`);
    out.set(a.family, a.ip);
  });
  return out;
}

function readAffinity(spec: Raw): number {
  const mode = str(spec.sessionAffinity, 'spec.sessionAffinity', 'None');
  if (mode !== 'None' && mode !== 'ClientIP') throw new FieldError('spec.sessionAffinity', `must be None or ClientIP, got ${JSON.stringify(mode)}`);
  const cfg = obj(obj(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig').clientIP, 'spec.sessionAffinityConfig.clientIP');
  const timeout = int(cfg.timeoutSeconds, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', 1, 86400, DEFAULT_AFFINITY_TIMEOUT);
  if (mode === 'None' && cfg.timeoutSeconds !== undefined) {
    throw new FieldError('spec.sessionAffinityConfig', 'set while sessionAffinity is None');
  }
  return mode === 'ClientIP' ? timeout : 0;
}

function readIngress(status: Raw): { family: Family; ip: string }[] {
  const lb = obj(status.loadBalancer, 'status.loadBalancer');
  const out: { family: Family; ip: string }[] = [];
  arr(lb.ingress, 'status.loadBalancer.ingress').forEach((ing, i) => {
    const f = `status.loadBalancer.ingress[${i}]`;
    const o = obj(ing, f);
    const text = str(o.ip, `${f}.ip`, '');
    const mode = str(o.ipMode, `${f}.ipMode`, 'VIP');
    if (mode !== 'VIP' && mode !== 'Proxy') throw new FieldError(`${f}.ipMode`, `must be VIP or Proxy, got ${JSON.stringify(mode)}`);
    if (text === '' || mode === 'Proxy') return; // hostname-only, or the LB proxies: not short-circuited
    out.push(ip(text, `${f}.ip`));
  });
  return out; // kube-proxy uses ingress IPs whatever the type (the controller clears them on a type change)
}

function ip(v: unknown, field: string): { family: Family; ip: string } {
  const a = parseIP(v);
  if (!a) throw new FieldError(field, `${JSON.stringify(v)} is not an IP address`);
  return a;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
