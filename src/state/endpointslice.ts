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
  // A field's path is built only when the field is wrong, not for every field of every endpoint (100k+ at scale).
  const endpoints: SliceEndpoint[] = [];
  const listed = arr(raw.endpoints, 'endpoints');
  for (let i = 0; i < listed.length; i++) {
    let e: SliceEndpoint | 'no address' | 'other family';
    try {
      e = readEndpoint(listed[i], family, nodeName);
    } catch (err) {
      throw err instanceof FieldError ? new FieldError(`endpoints[${i}]${err.field}`, err.reason) : err;
    }
    if (e instanceof SliceEndpoint) endpoints.push(e);
    else if (e === 'other family') {
      const address = (listed[i] as { addresses: unknown[] }).addresses[0];
      notes.push({ field: `endpoints[${i}].addresses[0]`, note: `${JSON.stringify(address)} is not an ${addressType} address: this endpoint is ignored, as in kube-proxy` });
    }
  }
  const withPorts = ports.map((p) => ({
    name: p.name, protocol: p.protocol, port: p.port,
    endpoints: mergeEndpoints([endpoints.map((e) => e.onPort(p.port))]),
  }));
  // Joined, not templated: a template literal makes a tree of string pieces (several objects) that lives as long as the slice.
  return { slice: { key: [namespace, name].join('/'), service: [namespace, service].join('/'), family, ports: withPorts }, notes };
}

/** One endpoint of a slice of `family`. A FieldError's field is relative to the endpoint (".conditions.ready"). */
function readEndpoint(raw: unknown, family: Family, nodeName: string): SliceEndpoint | 'no address' | 'other family' {
  const e = obj(raw, '');
  const addrs = arr(e.addresses, '.addresses');
  if (addrs.length === 0) return 'no address'; // kube-proxy skips address-less endpoints too
  const a = parseIP(addrs[0]);
  if (!a) throw new FieldError('.addresses[0]', `${JSON.stringify(addrs[0])} is not an IP address`);
  if (a.family !== family) return 'other family';
  const c = obj(e.conditions, '.conditions');
  const hints = obj(e.hints, '.hints');
  const node = str(e.nodeName, '.nodeName', '');
  const zones = hintNames(hints.forZones, '.hints.forZones');
  const nodes = hintNames(hints.forNodes, '.hints.forNodes');
  const bits = (node !== '' && node === nodeName ? LOCAL : 0) | (node !== '' && node !== nodeName ? REMOTE : 0)
    // kube-proxy's reading of unset conditions: ready and serving default true.
    | ((bool(c.ready, '.conditions.ready') ?? true) ? READY : 0)
    | ((bool(c.serving, '.conditions.serving') ?? true) ? SERVING : 0)
    | ((bool(c.terminating, '.conditions.terminating') ?? false) ? TERMINATING : 0);
  return new SliceEndpoint(a.ip, 0, bits, zones === NO_HINTS && nodes === NO_HINTS ? NONE : { zones, nodes });
}

function hintNames(v: unknown, field: string): readonly string[] {
  const list = arr(v, field);
  return list.length === 0 ? NO_HINTS : list.map((h, j) => str(obj(h, `${field}[${j}]`).name, `${field}[${j}].name`));
}

/** kube-proxy's EndpointSliceCache merge: dedupe by ip:port (a local copy wins), sort by "ip:port". */
export function mergeEndpoints(lists: readonly (readonly Endpoint[])[]): Endpoint[] {
  const keyed: { key: string; e: Endpoint }[] = [];
  for (const list of lists) for (const e of list) keyed.push({ key: endpointKey(e), e });
  // Stable: copies of one ip:port stay in the order given, and the first wins unless a later one is local (the last local).
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out: Endpoint[] = [];
  for (let i = 0; i < keyed.length; i++) {
    const { key, e } = keyed[i]!;
    if (i > 0 && key === keyed[i - 1]!.key) {
      if (e.isLocal) out[out.length - 1] = e;
    } else out.push(e);
  }
  return out;
}

function endpointKey(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
