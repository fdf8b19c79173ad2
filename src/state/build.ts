// Raw API objects -> one ProxyState snapshot. Bad objects become Issues and
// are left out; everything else is kept.
import { FieldError, type Issue } from './issues.js';
import { normalizeService } from './service.js';
import { normalizeEndpointSlice, type Slice } from './endpointslice.js';
import { emptyNode, normalizeNode, normalizeServiceCIDR } from './node.js';
import type { Raw } from './fields.js';
import { frontendIPs, type Cidr, type Endpoint, type Family, type NodeInfo, type ProxyState, type ServicePort } from './types.js';

export interface SourcedObject {
  readonly source: string; // "file.yaml#2"
  readonly raw: Raw;
}

export interface BuildOptions {
  readonly nodeName: string;
  /** --node-ip: replaces the Node object's addresses when non-empty. */
  readonly nodeIPs?: Readonly<Record<Family, readonly string[]>>;
  /**
   * The last valid version of each object, from the previous build of a
   * long-running caller: an object updated into an invalid one is reported,
   * and its last valid version stays programmed (nothing programmed is lost).
   */
  readonly lastValid?: ReadonlyMap<string, Raw>;
}

export interface BuildResult {
  readonly state: ProxyState;
  readonly issues: Issue[];
  /** Objects deliberately not handled (other kinds, ExternalName, ...), one line each. */
  readonly ignored: string[];
  /** Every object that was valid (or stood in for an invalid update), for the next build's lastValid. */
  readonly valid: ReadonlyMap<string, Raw>;
}

export function buildState(objects: readonly SourcedObject[], opts: BuildOptions): BuildResult {
  const issues: Issue[] = [];
  const ignored: string[] = [];
  const services = new Map<string, { source: string; ports: ServicePort[] }>();
  const slices = new Map<string, Slice>();
  const serviceCIDRs: Cidr[] = [];
  let node: NodeInfo | undefined;
  const valid = new Map<string, Raw>();

  for (const object of objects) {
    const { source } = object;
    let { raw } = object;
    const kind = `${String(raw.apiVersion)} ${String(raw.kind)}`;
    const label = () => describe(object.raw);
    const identity = `${kind} ${keyOf(raw)}`;
    const previous = opts.lastValid?.get(identity);
    try {
      if (previous && previous !== raw && failure(raw, kind)) raw = previous;
      valid.set(identity, raw);
      switch (kind) {
        case 'v1 Service': {
          const r = memoized(raw, normalizeService);
          if ('ignored' in r) ignored.push(`${source}: ${label()} ignored: ${r.ignored}`);
          else services.set(keyOf(raw), { source, ports: r.ports });
          break;
        }
        case 'discovery.k8s.io/v1 EndpointSlice': {
          const r = memoized(raw, normalizeEndpointSlice);
          if ('ignored' in r) ignored.push(`${source}: ${label()} ignored: ${r.ignored}`);
          else slices.set(r.slice.key, r.slice);
          break;
        }
        case 'v1 Node': {
          const n = memoized(raw, normalizeNode);
          if (n.name === opts.nodeName) node = n;
          break;
        }
        case 'networking.k8s.io/v1 ServiceCIDR':
          serviceCIDRs.push(...memoized(raw, normalizeServiceCIDR));
          break;
        default:
          ignored.push(`${source}: ${label()} ignored: kind ${kind} is not used by svcrouter`);
      }
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      issues.push({ source, object: label(), field: e.field, reason: e.reason });
      valid.delete(identity);
    }
    if (raw !== object.raw) {
      const e = failure(object.raw, kind)!;
      issues.push({ source, object: label(), field: e.field, reason: `${e.reason} (the last valid version stays programmed)` });
    }
  }

  node ??= emptyNode(opts.nodeName);
  if (opts.nodeIPs && (opts.nodeIPs.ipv4.length > 0 || opts.nodeIPs.ipv6.length > 0)) node = { ...node, ips: opts.nodeIPs };

  const servicePorts = new Map<string, ServicePort>();
  const claimed = new Map<string, string>();
  for (const key of [...services.keys()].sort()) {
    const { source, ports } = services.get(key)!;
    const mine = new Set<string>();
    // Two Services, or two addresses of one Service (an externalIP equal to its clusterIP), may not share a key.
    const clash = ports.flatMap(frontendKeysMemoized).find((k) => {
      if (claimed.has(k.key) || mine.has(k.key)) return true;
      mine.add(k.key);
      return false;
    });
    if (clash) {
      const owner = claimed.get(clash.key);
      issues.push({ source, object: `Service ${key}`, field: clash.field, reason: owner ? `${clash.what} is already used by Service ${owner}` : `${clash.what} appears twice in this Service` });
      continue;
    }
    for (const p of ports) {
      for (const k of frontendKeysMemoized(p)) claimed.set(k.key, key);
      servicePorts.set(p.id, p);
    }
  }

  const endpoints = new Map<string, readonly Endpoint[]>();
  const slicesByService = groupSlices(slices);
  for (const sp of servicePorts.values()) {
    endpoints.set(sp.id, endpointsMemoized(sp, slicesByService.get(`${sp.namespace}/${sp.name}`) ?? [], node.name));
  }
  const uniqCIDRs = [...new Map(serviceCIDRs.map((c) => [c.text, c])).values()];
  return { state: { node, servicePorts, endpoints, serviceCIDRs: uniqCIDRs }, issues, ignored, valid };
}

const NORMALIZERS: Record<string, (raw: Raw) => unknown> = {
  'v1 Service': normalizeService,
  'discovery.k8s.io/v1 EndpointSlice': normalizeEndpointSlice,
  'v1 Node': normalizeNode,
  'networking.k8s.io/v1 ServiceCIDR': normalizeServiceCIDR,
};

/** The reason an object does not validate, or undefined. */
function failure(raw: Raw, kind: string): FieldError | undefined {
  const normalize = NORMALIZERS[kind];
  if (!normalize) return undefined;
  try {
    memoized(raw, normalize);
    return undefined;
  } catch (e) {
    if (e instanceof FieldError) return e;
    throw e;
  }
}

/**
 * Normalizing is the costly part of a build; API objects are never mutated
 * (a change arrives as a new object), so each one is normalized once.
 */
const normalized = new WeakMap<Raw, { value: unknown } | { error: FieldError }>();

function memoized<T>(raw: Raw, normalize: (raw: Raw) => T): T {
  let hit = normalized.get(raw);
  if (!hit) {
    try {
      hit = { value: normalize(raw) };
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      hit = { error: e };
    }
    normalized.set(raw, hit);
  }
  if ('error' in hit) throw hit.error;
  return hit.value as T;
}

const frontendKeyCache = new WeakMap<ServicePort, ReturnType<typeof frontendKeys>>();

function frontendKeysMemoized(p: ServicePort): ReturnType<typeof frontendKeys> {
  let keys = frontendKeyCache.get(p);
  if (!keys) frontendKeyCache.set(p, (keys = frontendKeys(p)));
  return keys;
}

/** The kernel keys one ServicePort occupies; two Services may not share one. */
function frontendKeys(p: ServicePort): { key: string; field: string; what: string }[] {
  const proto = p.protocol.toUpperCase();
  const vips = frontendIPs(p).map((ip) => ({
    key: `${p.family} ${ip} ${p.protocol} ${p.port}`, field: 'spec.ports', what: `${ip} port ${p.port}/${proto}`,
  }));
  const np = p.nodePort ? [{ key: `${p.family} nodeport ${p.protocol} ${p.nodePort}`, field: 'spec.ports.nodePort', what: `nodePort ${p.nodePort}/${proto}` }] : [];
  return [...vips, ...np];
}

function groupSlices(slices: Map<string, Slice>): Map<string, Slice[]> {
  const out = new Map<string, Slice[]>();
  for (const key of [...slices.keys()].sort()) {
    const s = slices.get(key)!;
    const list = out.get(s.service);
    if (list) list.push(s);
    else out.set(s.service, [s]);
  }
  return out;
}

/** The same array while the port, its slices (by identity) and the node name are the same. */
const mergedEndpoints = new WeakMap<ServicePort, { slices: readonly Slice[]; nodeName: string; endpoints: readonly Endpoint[] }>();

function endpointsMemoized(sp: ServicePort, slices: readonly Slice[], nodeName: string): readonly Endpoint[] {
  const hit = mergedEndpoints.get(sp);
  if (hit && hit.nodeName === nodeName && hit.slices.length === slices.length && hit.slices.every((s, i) => s === slices[i])) return hit.endpoints;
  const endpoints = endpointsFor(sp, slices, nodeName);
  mergedEndpoints.set(sp, { slices, nodeName, endpoints });
  return endpoints;
}

/** kube-proxy's EndpointSliceCache merge: dedupe by ip:port (a local copy wins), sort by "ip:port". */
export function endpointsFor(sp: ServicePort, slices: readonly Slice[], nodeName: string): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const s of slices) {
    if (s.family !== sp.family) continue;
    for (const port of s.ports) {
      if (port.name !== sp.portName || port.protocol !== sp.protocol) continue;
      for (const e of s.endpoints) {
        const ep: Endpoint = {
          ip: e.ip, port: port.port, isLocal: e.nodeName !== '' && e.nodeName === nodeName,
          ready: e.ready, serving: e.serving, terminating: e.terminating,
          zoneHints: e.zoneHints, nodeHints: e.nodeHints,
        };
        const k = endpointKey(ep);
        if (!byKey.has(k) || ep.isLocal) byKey.set(k, ep);
      }
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

export function endpointKey(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function keyOf(raw: Raw): string {
  const m = (raw.metadata ?? {}) as Raw;
  return `${typeof m.namespace === 'string' ? m.namespace : 'default'}/${String(m.name)}`;
}

/** "Service default/web" with the name cut and quoted if it is hostile. */
function describe(raw: Raw): string {
  const m = (raw.metadata && typeof raw.metadata === 'object' ? raw.metadata : {}) as Raw;
  const name = typeof m.name === 'string' ? m.name : '<no name>';
  const namespaced = raw.kind === 'Service' || raw.kind === 'EndpointSlice';
  const ns = typeof m.namespace === 'string' ? `${m.namespace}/` : namespaced ? 'default/' : '';
  const text = `${ns}${name}`;
  const safe = /^[a-z0-9.\-/]{1,120}$/.test(text) ? text : JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
  return `${String(raw.kind ?? 'object')} ${safe}`;
}
