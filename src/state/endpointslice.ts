// discovery.k8s.io/v1 EndpointSlice -> a validated slice, read as kube-proxy's
// EndpointSliceCache reads it: headless, foreign-proxy and non-IP slices are
// ignored, and so are ports without a number and endpoints of the other
// family (with a note). Its endpoints are built once, per port, as the state's
// Endpoints for the node the proxy runs on: a service with one slice shares
// them (no copy at scale).
import { FieldError } from './issues.js';
import { parseIP } from './addr.js';
import { arr, bool, dnsLabel, dnsSubdomain, int, obj, portName, protocol, str, type FieldNote, type Raw } from './fields.js';
import { HEADLESS_LABEL, SERVICE_PROXY_NAME_LABEL } from './service.js';
import type { Endpoint, Family, Protocol } from './types.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

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

export type SliceResult = { ignored: string } | { slice: Slice; notes: FieldNote[] };

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
  if (addressType !== 'IPv4' && addressType !== 'IPv6') return { ignored: `addressType ${JSON.stringify(addressType)} (kube-proxy serves IPv4 and IPv6 slices only)` };
  const family: Family = addressType === 'IPv4' ? 'ipv4' : 'ipv6';
  const notes: FieldNote[] = [];

  const ports = arr(raw.ports, 'ports').flatMap((rp, i) => {
    const p = obj(rp, `ports[${i}]`);
    const port = int(p.port, `ports[${i}].port`, 0, 65535, 0);
    const read = { name: portName(p.name, `ports[${i}].name`), protocol: protocol(p.protocol, `ports[${i}].protocol`), port };
    if (port !== 0) return [read];
    notes.push({ field: `ports[${i}].port`, note: 'is not set: this port is ignored, as in kube-proxy' });
    return [];
  });
  type Where = Omit<Endpoint, 'port'>;
  const endpoints = arr(raw.endpoints, 'endpoints').flatMap((re, i): Where[] => {
    const f = `endpoints[${i}]`;
    const e = obj(re, f);
    const addrs = arr(e.addresses, `${f}.addresses`);
    if (addrs.length === 0) return []; // kube-proxy skips address-less endpoints too
    const a = parseIP(addrs[0]);
    if (!a) throw new FieldError(`${f}.addresses[0]`, `${JSON.stringify(addrs[0])} is not an IP address`);
    if (a.family !== family) {
      notes.push({ field: `${f}.addresses[0]`, note: `${JSON.stringify(addrs[0])} is not an ${addressType} address: this endpoint is ignored, as in kube-proxy` });
      return [];
    }
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
  return { slice: { key: `${namespace}/${name}`, service: `${namespace}/${service}`, family, ports: withPorts }, notes };
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
