// The cluster as the proxy sees it, kept one API object at a time: a change
// normalizes only that object and recomputes only the service ports it
// touches, and records which ports changed, so that later stages redo only
// those. Pure (no I/O): the same changes give the same state.
import { FieldError, type Issue } from './issues.js';
import { claimsOf } from './claims.js';
import { normalizeService } from './service.js';
import { mergeEndpoints, normalizeEndpointSlice, type Slice } from './endpointslice.js';
import { emptyNode, normalizeNode, normalizeServiceCIDR } from './node.js';
import type { FieldNote, Raw } from './fields.js';
import { frontendIPs, type Cidr, type Endpoint, type Family, type NodeInfo, type ProxyState, type ServicePort } from './types.js';

export interface TrackerOptions {
  readonly nodeName: string;
  /** --node-ip: replaces the Node object's addresses when non-empty. */
  readonly nodeIPs?: Readonly<Record<Family, readonly string[]>>;
}

export interface Changes {
  /** ServicePort ids added, removed or changed (the port, its endpoints, or the node it is decided for). */
  readonly ports: ReadonlySet<string>;
  /** The node or the ServiceCIDRs changed: the fixed part of the tables follows them. */
  readonly base: boolean;
}

/** A kernel key one ServicePort occupies; two Services may not share one. */
interface FrontendKey {
  readonly key: string;
  readonly field: string;
  readonly what: string;
}

interface ServiceEntry {
  readonly source: string;
  readonly ports: readonly ServicePort[];
  readonly keys: readonly FrontendKey[];
}

const SERVICE = 'v1 Service';
const SLICE = 'discovery.k8s.io/v1 EndpointSlice';
const NODE = 'v1 Node';
const SERVICE_CIDR = 'networking.k8s.io/v1 ServiceCIDR';

export class StateTracker {
  // Valid (or last valid) versions, by "ns/name".
  private readonly services = new Map<string, ServiceEntry>();
  private readonly slices = new Map<string, Slice>();
  private readonly slicesByService = new Map<string, Map<string, Slice>>();
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly cidrs = new Map<string, Cidr[]>();
  // Problems, by object identity ("<apiVersion> <kind> ns/name"), and clashes by service.
  private readonly objectIssues = new Map<string, Issue>();
  // Objects ignored, and objects programmed with fields read as kube-proxy reads them: one line each.
  private readonly ignoredLines = new Map<string, string>();
  private readonly noteLines = new Map<string, string>();
  private readonly clashIssues = new Map<string, Issue>();
  // Which services want each frontend key; keys wanted by two or more are contested.
  private readonly claims = new Map<string, Set<string>>();
  private readonly contested = new Set<string>();
  // What is programmed: the accepted services' ports and their merged endpoints.
  private readonly programmed = new Map<string, readonly ServicePort[]>();
  private readonly servicePorts = new Map<string, ServicePort>();
  private readonly endpoints = new Map<string, readonly Endpoint[]>();
  private node: NodeInfo;
  private serviceCIDRs: readonly Cidr[] = [];
  // Pending work, and the change record takeChanges() hands out.
  private readonly dirty = new Set<string>();
  private changedPorts = new Set<string>();
  private baseChanged = false;
  private issueChanges = 0;
  private noteChanges = 0;

  private readonly normalizers: Record<string, (raw: Raw) => unknown>;

  constructor(private readonly opts: TrackerOptions) {
    this.node = this.ourNode();
    this.normalizers = {
      [SERVICE]: normalizeService,
      [SLICE]: (raw) => normalizeEndpointSlice(raw, opts.nodeName),
      [NODE]: normalizeNode,
      [SERVICE_CIDR]: normalizeServiceCIDR,
    };
  }

  /** An object was created or updated. An invalid update is reported and its last valid version kept. */
  upsert(source: string, raw: Raw): void {
    const kind = kindOf(raw);
    const key = keyOf(raw);
    const id = `${kind} ${key}`;
    if (this.objectIssues.delete(id)) this.issueChanges++;
    const normalize = this.normalizers[kind];
    if (!normalize) {
      this.setLines(id, `kind ${kind} is not used by svcrouter`, undefined, source, raw);
      return;
    }
    let result: unknown;
    try {
      result = normalize(raw);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      this.setLines(id, undefined, undefined, source, raw);
      const kept = this.hasValid(kind, key) ? ' (the last valid version stays programmed)' : '';
      this.objectIssues.set(id, { source, object: describe(raw), field: e.field, reason: `${e.reason}${kept}`, claims: claimsOf(raw) });
      this.issueChanges++;
      return;
    }
    const warn = (r: { ignored: string } | { notes: readonly FieldNote[] }) =>
      this.setLines(id, 'ignored' in r ? r.ignored : undefined, 'notes' in r ? r.notes : undefined, source, raw);
    switch (kind) {
      case SERVICE: {
        const r = result as ReturnType<typeof normalizeService>;
        warn(r);
        this.setService(key, 'ignored' in r ? undefined : { source, ports: r.ports, keys: r.ports.flatMap(frontendKeys) });
        return;
      }
      case SLICE: {
        const r = result as ReturnType<typeof normalizeEndpointSlice>;
        warn(r);
        this.setSlice(key, 'ignored' in r ? undefined : r.slice);
        return;
      }
      case NODE:
        warn({ notes: [] });
        this.nodes.set(key, result as NodeInfo);
        this.nodeChanged();
        return;
      case SERVICE_CIDR:
        warn({ notes: [] });
        this.cidrs.set(key, result as Cidr[]);
        this.cidrsChanged();
    }
  }

  /** An object was deleted (only its kind, namespace and name are read). */
  remove(raw: Raw): void {
    const kind = kindOf(raw);
    const key = keyOf(raw);
    if (this.objectIssues.delete(`${kind} ${key}`)) this.issueChanges++;
    this.setLines(`${kind} ${key}`, undefined, undefined, '', raw);
    if (kind === SERVICE) this.setService(key, undefined);
    else if (kind === SLICE) this.setSlice(key, undefined);
    else if (kind === NODE && this.nodes.delete(key)) this.nodeChanged();
    else if (kind === SERVICE_CIDR && this.cidrs.delete(key)) this.cidrsChanged();
  }

  /** The current state. Its maps are live: read it before feeding more changes. */
  state(): ProxyState {
    this.settle();
    return { node: this.node, servicePorts: this.servicePorts, endpoints: this.endpoints, serviceCIDRs: this.serviceCIDRs };
  }

  /** What changed since the last call, and forget it. */
  takeChanges(): Changes {
    this.settle();
    const changes = { ports: this.changedPorts, base: this.baseChanged };
    this.changedPorts = new Set();
    this.baseChanged = false;
    return changes;
  }

  /** Changes whenever issues() may have: callers that report problems need not rebuild the list otherwise. */
  get issuesVersion(): number {
    this.settle();
    return this.issueChanges;
  }

  /** Every problem that holds now: invalid objects in the order first seen, then clashes by service. */
  issues(): Issue[] {
    this.settle();
    const clashes = [...this.clashIssues].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, i]) => i);
    return [...this.objectIssues.values(), ...clashes];
  }

  /** Objects deliberately not handled (other kinds, ExternalName, ...), one line each. */
  ignored(): string[] {
    return [...this.ignoredLines.values()];
  }

  /** Objects programmed with fields read as kube-proxy reads them (one line each, every field and what was done instead). */
  notes(): string[] {
    return [...this.noteLines.values()];
  }

  /** Changes whenever notes() may have. */
  get notesVersion(): number {
    return this.noteChanges;
  }

  private setLines(id: string, ignored: string | undefined, notes: readonly FieldNote[] | undefined, source: string, raw: Raw): void {
    if (ignored === undefined) this.ignoredLines.delete(id);
    else this.ignoredLines.set(id, `${source}: ${describe(raw)} ignored: ${ignored}`);
    const line = notes && notes.length > 0 ? `${source}: ${describe(raw)}: ${notes.map((n) => `${n.field} ${n.note}`).join('; ')}` : undefined;
    if (this.noteLines.get(id) === line) return;
    if (line === undefined) this.noteLines.delete(id);
    else this.noteLines.set(id, line);
    this.noteChanges++;
  }

  private hasValid(kind: string, key: string): boolean {
    if (kind === SERVICE) return this.services.has(key);
    if (kind === SLICE) return this.slices.has(key);
    if (kind === NODE) return this.nodes.has(key);
    return this.cidrs.has(key);
  }

  private setService(key: string, entry: ServiceEntry | undefined): void {
    const old = this.services.get(key);
    // An update that changes nothing the proxy reads keeps its ports' identity: later stages skip them.
    if (old && entry && samePorts(old.ports, entry.ports)) entry = { ...entry, ports: old.ports, keys: old.keys };
    if (old) for (const k of old.keys) this.unclaim(k.key, key);
    if (entry) {
      this.services.set(key, entry);
      for (const k of entry.keys) this.claim(k.key, key);
    } else {
      this.services.delete(key);
    }
    this.dirty.add(key);
  }

  private setSlice(key: string, slice: Slice | undefined): void {
    const old = this.slices.get(key);
    if (old) {
      this.slicesByService.get(old.service)?.delete(key);
      this.dirty.add(old.service);
    }
    if (!slice) {
      this.slices.delete(key);
      return;
    }
    this.slices.set(key, slice);
    let group = this.slicesByService.get(slice.service);
    if (!group) this.slicesByService.set(slice.service, (group = new Map()));
    group.set(key, slice);
    this.dirty.add(slice.service);
  }

  private claim(fk: string, service: string): void {
    let owners = this.claims.get(fk);
    if (!owners) this.claims.set(fk, (owners = new Set()));
    owners.add(service);
    this.contestMaybe(fk, owners);
  }

  private unclaim(fk: string, service: string): void {
    const owners = this.claims.get(fk);
    if (!owners?.delete(service)) return;
    if (owners.size === 0) this.claims.delete(fk);
    this.contestMaybe(fk, owners, true);
  }

  /** Whoever shares a contested key (or just stopped sharing it) may change acceptance. */
  private contestMaybe(fk: string, owners: Set<string>, shrank = false): void {
    if (owners.size >= 2 || (shrank && this.contested.has(fk))) for (const s of owners) this.dirty.add(s);
    if (owners.size >= 2) this.contested.add(fk);
    else this.contested.delete(fk);
  }

  private nodeChanged(): void {
    const next = this.ourNode();
    if (JSON.stringify(next) === JSON.stringify(this.node)) return;
    this.node = next;
    this.baseChanged = true;
    // Every decision reads the node (zone, addresses); endpoints do not (locality is by name).
    for (const id of this.servicePorts.keys()) this.changedPorts.add(id);
  }

  private ourNode(): NodeInfo {
    const found = [...this.nodes.values()].find((n) => n.name === this.opts.nodeName) ?? emptyNode(this.opts.nodeName);
    const ips = this.opts.nodeIPs;
    return ips && (ips.ipv4.length > 0 || ips.ipv6.length > 0) ? { ...found, ips } : found;
  }

  private cidrsChanged(): void {
    this.serviceCIDRs = [...new Map([...this.cidrs.values()].flat().map((c) => [c.text, c])).values()];
    this.baseChanged = true;
  }

  /** Applies pending work: acceptance of the services touched, then their ports and endpoints. */
  private settle(): void {
    if (this.dirty.size === 0) return;
    const accepted = this.resolveClaims();
    for (const key of this.dirty) this.program(key, accepted.get(key) ?? false);
    this.dirty.clear();
  }

  /**
   * Which dirty services may be programmed. As buildState always decided: in
   * key order, a Service is refused if it wants a key an earlier accepted one
   * holds, or the same key twice. Only services sharing a contested key can
   * affect each other, so those are resolved together and the rest alone.
   */
  private resolveClaims(): Map<string, boolean> {
    const accepted = new Map<string, boolean>();
    let contest = false;
    for (const key of this.dirty) {
      const entry = this.services.get(key);
      if (!entry) continue;
      if (entry.keys.some((k) => this.contested.has(k.key))) {
        contest = true;
        continue;
      }
      const twice = firstClash(entry.keys, () => false);
      accepted.set(key, !twice);
      this.recordClash(key, entry, twice, undefined);
    }
    const group = new Set<string>();
    if (contest) for (const fk of this.contested) for (const s of this.claims.get(fk)!) group.add(s);
    const holder = new Map<string, string>();
    for (const key of [...group].sort()) {
      const entry = this.services.get(key)!;
      const clash = firstClash(entry.keys, (k) => holder.has(k));
      accepted.set(key, !clash);
      this.recordClash(key, entry, clash, clash ? holder.get(clash.key) : undefined);
      if (!clash) for (const k of entry.keys) holder.set(k.key, key);
      this.dirty.add(key);
    }
    for (const key of this.dirty) if (!this.services.has(key)) this.dropClash(key);
    return accepted;
  }

  private recordClash(key: string, entry: ServiceEntry, clash: FrontendKey | undefined, owner: string | undefined): void {
    if (!clash) {
      this.dropClash(key);
      return;
    }
    const reason = owner ? `${clash.what} is already used by Service ${owner}` : `${clash.what} appears twice in this Service`;
    const old = this.clashIssues.get(key);
    if (old && old.reason === reason && old.source === entry.source && old.field === clash.field) return;
    const claims = { service: key, addresses: [...new Set(entry.ports.flatMap(frontendIPs))], nodePorts: entry.ports.map((p) => p.nodePort).filter((n) => n !== 0) };
    this.clashIssues.set(key, { source: entry.source, object: `Service ${key}`, field: clash.field, reason, claims });
    this.issueChanges++;
  }

  private dropClash(key: string): void {
    if (this.clashIssues.delete(key)) this.issueChanges++;
  }

  /** Puts one service's ports (none if refused or gone) and their endpoints in the state. */
  private program(key: string, accepted: boolean): void {
    const before = this.programmed.get(key) ?? [];
    const after = accepted ? this.services.get(key)!.ports : [];
    for (const p of before) {
      if (after.some((q) => q.id === p.id)) continue;
      this.servicePorts.delete(p.id);
      this.endpoints.delete(p.id);
      this.changedPorts.add(p.id);
    }
    const slices = this.slicesOf(key);
    for (const p of after) {
      const eps = endpointsFor(p, slices);
      const old = this.endpoints.get(p.id);
      if (this.servicePorts.get(p.id) === p && old && sameEndpoints(old, eps)) continue;
      this.servicePorts.set(p.id, p);
      this.endpoints.set(p.id, eps);
      this.changedPorts.add(p.id);
    }
    if (after.length > 0) this.programmed.set(key, after);
    else this.programmed.delete(key);
  }

  private slicesOf(service: string): Slice[] {
    const group = this.slicesByService.get(service);
    if (!group) return [];
    return [...group.keys()].sort().map((k) => group.get(k)!);
  }
}

/** The first key that `taken` refuses or that appears twice, in order. */
function firstClash(keys: readonly FrontendKey[], taken: (key: string) => boolean): FrontendKey | undefined {
  const mine = new Set<string>();
  return keys.find((k) => {
    if (taken(k.key) || mine.has(k.key)) return true;
    mine.add(k.key);
    return false;
  });
}

function frontendKeys(p: ServicePort): FrontendKey[] {
  const proto = p.protocol.toUpperCase();
  const vips = frontendIPs(p).map((ip) => ({
    key: `${p.family} ${ip} ${p.protocol} ${p.port}`, field: 'spec.ports', what: `${ip} port ${p.port}/${proto}`,
  }));
  const np = p.nodePort ? [{ key: `${p.family} nodeport ${p.protocol} ${p.nodePort}`, field: 'spec.ports.nodePort', what: `nodePort ${p.nodePort}/${proto}` }] : [];
  return [...vips, ...np];
}

function samePorts(a: readonly ServicePort[], b: readonly ServicePort[]): boolean {
  return a.length === b.length && JSON.stringify(a) === JSON.stringify(b);
}

/** A port's endpoints across its service's slices: a single slice's own list when it is the only one. */
function endpointsFor(sp: ServicePort, slices: readonly Slice[]): readonly Endpoint[] {
  const lists: (readonly Endpoint[])[] = [];
  for (const s of slices) {
    if (s.family !== sp.family) continue;
    for (const port of s.ports) if (port.name === sp.portName && port.protocol === sp.protocol) lists.push(port.endpoints);
  }
  return lists.length === 0 ? NO_ENDPOINTS : lists.length === 1 ? lists[0]! : mergeEndpoints(lists);
}

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a === b) return true;
  return a.length === b.length && a.every((e, i) => {
    const o = b[i]!;
    return e.ip === o.ip && e.port === o.port && e.isLocal === o.isLocal && e.isRemote === o.isRemote && e.ready === o.ready && e.serving === o.serving
      && e.terminating === o.terminating && e.zoneHints.join() === o.zoneHints.join() && e.nodeHints.join() === o.nodeHints.join();
  });
}

function kindOf(raw: Raw): string {
  return `${String(raw.apiVersion)} ${String(raw.kind)}`;
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
