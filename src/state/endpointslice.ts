// discovery.k8s.io/v1 EndpointSlice -> a validated slice, with kube-proxy's
// filters (headless and foreign service-proxy-name slices, FQDN slices). Its
// endpoints are built once, per port, as the state's Endpoints for the node
// the proxy runs on: a service with one slice shares them (no copy at scale).
import { FieldError } from './issues.js';
import { parseIP } from './addr.js';
import { arr, bool, dnsLabel, dnsSubdomain, int, obj, portName, protocol, str, type Raw } from './fields.js';
import { SERVICE_PROXY_NAME_LABEL } from './service.js';
import type { Endpoint, Family, Protocol } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

export interface SlicePort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** Deduplicated by ip:port (a local copy wins) and sorted by it, as kube-proxy merges. */
  readonly endpoints: readonly Endpoint[];
}

export interface Slice {
  /** "ns/slice-name". */
  readonly key: string;
  /** "ns/service-name". */
  readonly service: string;
  readonly family: Family;
  readonly ports: readonly SlicePort[];
}

/** Most endpoints have no hints: one shared empty list, not one per endpoint (memory at scale). */
const NO_HINTS: readonly string[] = Object.freeze([]);

export type SliceResult = { ignored: string } | { slice: Slice };

/** `nodeName`: the proxy's own node, which decides each endpoint's locality. */
export function normalizeEndpointSlice(raw: Raw, nodeName: string): SliceResult {
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
  type Where = Omit<Endpoint, 'port'>;
  const endpoints = arr(raw.endpoints, 'endpoints').flatMap((re, i): Where[] => {
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
    const node = str(e.nodeName, `${f}.nodeName`, '');
    return [{
      ip: a.ip,
      isLocal: node !== '' && node === nodeName,
      isRemote: node !== '' && node !== nodeName,
      // kube-proxy's reading of unset conditions: ready and serving default true.
      ready: bool(c.ready, `${f}.conditions.ready`) ?? true,
      serving: bool(c.serving, `${f}.conditions.serving`) ?? true,
      terminating: bool(c.terminating, `${f}.conditions.terminating`) ?? false,
      zoneHints: names(hints.forZones, `${f}.hints.forZones`),
      nodeHints: names(hints.forNodes, `${f}.hints.forNodes`),
    }];
  });
  // Literal objects, not spreads: spread copies measured twice the heap here (100k+ endpoints).
  const withPorts = ports.map((p) => ({
    name: p.name, protocol: p.protocol, port: p.port,
    endpoints: mergeEndpoints([endpoints.map((e): Endpoint => ({
      ip: e.ip, port: p.port, isLocal: e.isLocal, isRemote: e.isRemote, ready: e.ready, serving: e.serving,
      terminating: e.terminating, zoneHints: e.zoneHints, nodeHints: e.nodeHints,
    }))]),
  }));
  return { slice: { key: `${namespace}/${name}`, service: `${namespace}/${service}`, family, ports: withPorts } };
}

/** kube-proxy's EndpointSliceCache merge: dedupe by ip:port (a local copy wins), sort by "ip:port". */
export function mergeEndpoints(lists: readonly (readonly Endpoint[])[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const list of lists) {
    for (const ep of list) {
      const k = endpointKey(ep);
      if (!byKey.has(k) || ep.isLocal) byKey.set(k, ep);
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

function endpointKey(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
