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

interface Hints {
  readonly zones: readonly string[];
  readonly nodes: readonly string[];
}
const NONE: Hints = Object.freeze({ zones: NO_HINTS, nodes: NO_HINTS });

const LOCAL = 1, REMOTE = 2, READY = 4, SERVING = 8, TERMINATING = 16;

/**
 * An endpoint as slices give it, in 4 fields instead of 9: its five
 * conditions in one number, its hints in one (usually shared) object. At 100k+
 * endpoints that halves what they cost.
 */
class SliceEndpoint implements Endpoint {
  constructor(readonly ip: string, readonly port: number, private readonly bits: number, private readonly hints: Hints) {}
  get isLocal(): boolean { return (this.bits & LOCAL) !== 0; }
  get isRemote(): boolean { return (this.bits & REMOTE) !== 0; }
  get ready(): boolean { return (this.bits & READY) !== 0; }
  get serving(): boolean { return (this.bits & SERVING) !== 0; }
  get terminating(): boolean { return (this.bits & TERMINATING) !== 0; }
  get zoneHints(): readonly string[] { return this.hints.zones; }
  get nodeHints(): readonly string[] { return this.hints.nodes; }
  /** The same endpoint on another port. */
  onPort(port: number): SliceEndpoint {
    return new SliceEndpoint(this.ip, port, this.bits, this.hints);
  }
}

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
  const endpoints = arr(raw.endpoints, 'endpoints').flatMap((re, i): SliceEndpoint[] => {
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
    const zones = names(hints.forZones, `${f}.hints.forZones`);
    const nodes = names(hints.forNodes, `${f}.hints.forNodes`);
    const bits = (node !== '' && node === nodeName ? LOCAL : 0) | (node !== '' && node !== nodeName ? REMOTE : 0)
      // kube-proxy's reading of unset conditions: ready and serving default true.
      | ((bool(c.ready, `${f}.conditions.ready`) ?? true) ? READY : 0)
      | ((bool(c.serving, `${f}.conditions.serving`) ?? true) ? SERVING : 0)
      | ((bool(c.terminating, `${f}.conditions.terminating`) ?? false) ? TERMINATING : 0);
    return [new SliceEndpoint(a.ip, 0, bits, zones === NO_HINTS && nodes === NO_HINTS ? NONE : { zones, nodes })];
  });
  const withPorts = ports.map((p) => ({
    name: p.name, protocol: p.protocol, port: p.port,
    endpoints: mergeEndpoints([endpoints.map((e) => e.onPort(p.port))]),
  }));
  // Joined, not templated: a template literal makes a tree of string pieces (several objects) that lives as long as the slice.
  return { slice: { key: [namespace, name].join('/'), service: [namespace, service].join('/'), family, ports: withPorts }, notes };
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
