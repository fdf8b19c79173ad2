// v1 Node -> NodeInfo: the primary address per family (as kube-proxy picks
// its node IPs), zone label, podCIDRs.
import { FieldError } from './issues.js';
import { parseCIDR, parseIP } from './addr.js';
import { arr, dnsSubdomain, obj, str, type Raw } from './fields.js';
import type { Cidr, Family, NodeInfo } from './types.js';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export function normalizeNode(raw: Raw): NodeInfo {
  const meta = obj(raw.metadata, 'metadata');
  const name = dnsSubdomain(meta.name, 'metadata.name');
  const labels = obj(meta.labels, 'metadata.labels');
  const spec = obj(raw.spec, 'spec');
  const status = obj(raw.status, 'status');
  const byType: Record<string, { family: Family; ip: string }[]> = { InternalIP: [], ExternalIP: [] };
  arr(status.addresses, 'status.addresses').forEach((ra, i) => {
    const a = obj(ra, `status.addresses[${i}]`);
    const type = str(a.type, `status.addresses[${i}].type`);
    if (!(type in byType)) return;
    const ip = parseIP(a.address);
    if (!ip) throw new FieldError(`status.addresses[${i}].address`, `${JSON.stringify(a.address)} is not an IP address`);
    byType[type]!.push(ip);
  });
  // kube-proxy's node IPs: per family, the first InternalIP, else the first ExternalIP.
  const inFamily = (family: Family) => [...new Set([...byType.InternalIP!, ...byType.ExternalIP!].filter((a) => a.family === family).map((a) => a.ip))];
  const primary = (family: Family) => inFamily(family).slice(0, 1);
  const podCIDRs = [...arr(spec.podCIDRs, 'spec.podCIDRs'), ...(spec.podCIDR ? [spec.podCIDR] : [])].map((v, i) => {
    const c = parseCIDR(v);
    if (!c) throw new FieldError(`spec.podCIDRs[${i}]`, `${JSON.stringify(v)} is not a CIDR`);
    return c;
  });
  return {
    name,
    ips: { ipv4: primary('ipv4'), ipv6: primary('ipv6') },
    addresses: { ipv4: inFamily('ipv4'), ipv6: inFamily('ipv6') },
    zone: str(labels[ZONE_LABEL], `metadata.labels["${ZONE_LABEL}"]`, ''),
    podCIDRs: [...new Map(podCIDRs.map((c: Cidr) => [c.text, c])).values()],
  };
}

/** A node we have no object for: only the name is known. */
export function emptyNode(name: string): NodeInfo {
  return { name, ips: { ipv4: [], ipv6: [] }, addresses: { ipv4: [], ipv6: [] }, zone: '', podCIDRs: [] };
}

/** networking.k8s.io/v1 ServiceCIDR -> its CIDRs. */
export function normalizeServiceCIDR(raw: Raw): Cidr[] {
  const spec = obj(raw.spec, 'spec');
  return arr(spec.cidrs, 'spec.cidrs').map((v, i) => {
    const c = parseCIDR(v);
    if (!c) throw new FieldError(`spec.cidrs[${i}]`, `${JSON.stringify(v)} is not a CIDR`);
    return c;
  });
}
