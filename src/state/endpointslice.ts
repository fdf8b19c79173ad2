// discovery.k8s.io/v1 EndpointSlice -> a validated slice, with kube-proxy's
// filters (headless and foreign service-proxy-name slices, FQDN slices).
import { FieldError } from './issues.js';
import { parseIP } from './addr.js';
import { arr, bool, dnsLabel, dnsSubdomain, int, obj, portName, protocol, str, type Raw } from './fields.js';
import { SERVICE_PROXY_NAME_LABEL } from './service.js';
import type { Family, Protocol } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

export interface SliceEndpoint {
  readonly ip: string;
  readonly nodeName: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zoneHints: readonly string[];
  readonly nodeHints: readonly string[];
}

export interface Slice {
  /** "ns/slice-name". */
  readonly key: string;
  /** "ns/service-name". */
  readonly service: string;
  readonly family: Family;
  readonly ports: readonly { name: string; protocol: Protocol; port: number }[];
  readonly endpoints: readonly SliceEndpoint[];
}

/** Most endpoints have no hints: one shared empty list, not one per endpoint (memory at scale). */
const NO_HINTS: readonly string[] = Object.freeze([]);

export type SliceResult = { ignored: string } | { slice: Slice };

export function normalizeEndpointSlice(raw: Raw): SliceResult {
  const meta = obj(raw.metadata, 'metadata');
  const name = dnsSubdomain(meta.name, 'metadata.name');
  const namespace = meta.namespace === undefined ? 'default' : dnsLabel(meta.namespace, 'metadata.namespace');
  const labels = obj(meta.labels, 'metadata.labels');
  if (labels[SERVICE_PROXY_NAME_LABEL] !== undefined) return { ignored: `labelled ${SERVICE_PROXY_NAME_LABEL}` };
  if (labels[HEADLESS_LABEL] !== undefined) return { ignored: `labelled ${HEADLESS_LABEL}` };
  if (labels[SERVICE_NAME_LABEL] === undefined) return { ignored: `no ${SERVICE_NAME_LABEL} label` };
  const service = dnsLabel(labels[SERVICE_NAME_LABEL], `metadata.labels["${SERVICE_NAME_LABEL}"]`);
  const addressType = str(raw.addressType, 'addressType');
  if (addressType === 'FQDN') return { ignored: 'addressType FQDN' };
  if (addressType !== 'IPv4' && addressType !== 'IPv6') throw new FieldError('addressType', `must be IPv4, IPv6 or FQDN, got ${JSON.stringify(addressType)}`);
  const family: Family = addressType === 'IPv4' ? 'ipv4' : 'ipv6';

  const ports = arr(raw.ports, 'ports').map((rp, i) => {
    const p = obj(rp, `ports[${i}]`);
    return {
      name: portName(p.name, `ports[${i}].name`),
      protocol: protocol(p.protocol, `ports[${i}].protocol`),
      port: int(p.port, `ports[${i}].port`, 1, 65535),
    };
  });
  const endpoints = arr(raw.endpoints, 'endpoints').flatMap((re, i): SliceEndpoint[] => {
    const f = `endpoints[${i}]`;
    const e = obj(re, f);
    const addrs = arr(e.addresses, `${f}.addresses`);
    if (addrs.length === 0) return []; // kube-proxy skips address-less endpoints too
    const a = parseIP(addrs[0]);
    if (!a || a.family !== family) throw new FieldError(`${f}.addresses[0]`, `${JSON.stringify(addrs[0])} is not an ${addressType} address`);
    const c = obj(e.conditions, `${f}.conditions`);
    const hints = obj(e.hints, `${f}.hints`);
    const names = (v: unknown, hf: string) => {
      const list = arr(v, hf);
      return list.length === 0 ? NO_HINTS : list.map((h, j) => str(obj(h, `${hf}[${j}]`).name, `${hf}[${j}].name`));
    };
    return [{
      ip: a.ip,
      nodeName: str(e.nodeName, `${f}.nodeName`, ''),
      // kube-proxy's reading of unset conditions: ready and serving default true.
      ready: bool(c.ready, `${f}.conditions.ready`) ?? true,
      serving: bool(c.serving, `${f}.conditions.serving`) ?? true,
      terminating: bool(c.terminating, `${f}.conditions.terminating`) ?? false,
      zoneHints: names(hints.forZones, `${f}.hints.forZones`),
      nodeHints: names(hints.forNodes, `${f}.hints.forNodes`),
    }];
  });
  return { slice: { key: `${namespace}/${name}`, service: `${namespace}/${service}`, family, ports, endpoints } };
}
