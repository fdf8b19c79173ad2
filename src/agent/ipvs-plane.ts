// IPVS mode's kernel side: the IPVS table over generic netlink, the service
// addresses on the dummy link over rtnetlink, the helper tables through nft,
// kube-proxy's sysctls. It keeps a mirror of the kernel's IPVS table, read
// whole when it starts and on a full resync, then kept from the changes it
// sent, so a sync sends only the changes for the virtual servers the
// decisions touched, batched over one socket. Only svcrouter's virtual
// servers are ever deleted: those on its dummy link's addresses, on the node's
// own addresses (NodePorts), or keyed by a firewall mark of its range; never
// one inside --ipvs-exclude-cidrs. For the agent, the periodic resync is a
// full one, as kube-proxy's IPVS mode makes it: the kernel's IPVS table and
// addresses are read again and anything changed by others is put back (IPVS
// has no generation to watch); the helper tables are watched as nftables mode
// watches its own.
import { release } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { cidrContains } from '../state/addr.js';
import type { ProxyState } from '../state/types.js';
import { everyPort, type PolicyChange } from '../policy/port-policy.js';
import type { Committed, DataPlane, PlaneInput, SyncMode } from './data-plane.js';
import type { TamperWatch } from './tamper-watch.js';
import { IncrementalIpvs } from '../backends/ipvs/incremental.js';
import { reconcileIpvs, type DeletedFlow, type DrainQueue, type IpvsChange, type ObservedVirtualServer } from '../backends/ipvs/reconcile.js';
import { DUMMY_LINK, serviceArg } from '../backends/ipvs/model.js';
import { isUsableFwmark } from '../backends/ipvs/helper-layout.js';
import type { VirtualServerIndex } from '../backends/ipvs/lookup.js';
import type { HostAddresses } from '../backends/ipvs/family.js';
import { ipvsSysctls } from '../backends/ipvs/sysctls.js';
import { IpvsClient } from '../kernel/ipvs/client.js';
import type { IpvsOperation } from '../kernel/ipvs/model.js';
import { LinkClient } from '../kernel/links/client.js';
import { applyScript } from '../kernel/nft.js';
import { deleteFlows } from '../kernel/conntrack.js';
import { writeSysctls } from '../kernel/sysctl.js';

/** How often draining real servers are looked at again while there are any (kube-proxy: every minute). */
const DRAIN_CHECK_MS = 10_000;

export interface IpvsPlaneOptions {
  /** Watches the helper tables; none for a one-off apply. */
  readonly tamper?: TamperWatch | undefined;
  readonly log?: Logger;
}

export class IpvsPlane implements DataPlane {
  private readonly desired: IncrementalIpvs;
  private mirror = new Map<string, ObservedVirtualServer>();
  private readonly draining: DrainQueue = new Map();
  private bound = new Set<string>();
  /** The node's own addresses, read on a full sync: listing them lists the dummy link's thousands too. */
  private host: HostAddresses = { ipv4: [], ipv6: [] };

  private constructor(private readonly cfg: Config, private readonly ipvs: IpvsClient, private readonly links: LinkClient, private readonly opts: IpvsPlaneOptions) {
    this.desired = new IncrementalIpvs(cfg);
  }

  /** Connects (loading ip_vs, whose sysctls exist only then), sets the sysctls and timeouts, makes the dummy link. */
  static async open(cfg: Config, opts: IpvsPlaneOptions = {}): Promise<IpvsPlane> {
    const ipvs = await IpvsClient.open();
    await writeSysctls(ipvsSysctls(release(), cfg));
    const links = LinkClient.open();
    const { tcpTimeout: tcp, tcpFinTimeout: tcpFin, udpTimeout: udp } = cfg.ipvs;
    if (tcp || tcpFin || udp) await ipvs.setTimeouts({ ...(tcp ? { tcp } : {}), ...(tcpFin ? { tcpFin } : {}), ...(udp ? { udp } : {}) });
    await links.ensureDummyLink(DUMMY_LINK);
    return new IpvsPlane(cfg, ipvs, links, opts);
  }

  get virtualServers(): VirtualServerIndex {
    return this.desired;
  }

  async close(): Promise<void> {
    await this.ipvs.close();
    await this.links.close();
  }

  /**
   * 'replace' and 'reassert': read the kernel (IPVS table, addresses) whole
   * and bring all of it to every port's decision; 'plan': only what the
   * decisions that changed touched, with the node's addresses as the last
   * full sync read them.
   */
  async commit(mode: SyncMode, { state, decided, all }: PlaneInput): Promise<Committed> {
    const started = performance.now();
    const run = () => this.sync(mode, state, mode === 'replace' ? everyPort(all()) : decided);
    const tamper = this.opts.tamper;
    const done = await (tamper ? tamper.around(mode, run, (r) => (r.helperOperations > 0 ? 1 : 0)) : run());
    return { bytes: done.helperBytes, operations: done.operations, computeMs: done.computeMs, renderMs: 0, commitMs: performance.now() - started - done.computeMs };
  }

  async tampered(): Promise<boolean> {
    return this.opts.tamper ? this.opts.tamper.tampered(() => this.desired.shapes()) : false;
  }

  /** IPVS keeps no generation: what it holds is known only by reading it back, which the resync does. */
  async unchanged(): Promise<boolean> {
    return false;
  }

  failed(): void {
    this.opts.tamper?.forget();
  }

  watch(request: () => void): () => void {
    const stopTamper = this.opts.tamper?.watch(this.cfg.syncPeriodMs, request);
    // Draining real servers are deleted by a sync once their connections are gone or their time is up.
    const drains = setInterval(() => { if (this.draining.size > 0) request(); }, DRAIN_CHECK_MS);
    return () => {
      stopTamper?.();
      clearInterval(drains);
    };
  }

  /**
   * replace: the desired state built again from every port; reassert: kept,
   * with this sync's changes. Both read the kernel whole and bring all of it
   * to the decisions; the helper tables are replaced, or reasserted without
   * disturbing their affinity entries.
   */
  private async sync(mode: SyncMode, state: ProxyState, changes: readonly PolicyChange[]) {
    const full = mode !== 'plan';
    if (full) {
      // Someone may have deleted the link, and its addresses with it.
      await this.links.ensureDummyLink(DUMMY_LINK);
      this.host = await this.hostAddresses();
      if (mode === 'replace') this.desired.reset();
      this.mirror = await this.readKernel();
      this.bound = new Set((await this.links.listAddresses(DUMMY_LINK)).map((a) => a.address));
    }
    const host = this.host;
    const computing = performance.now();
    const update = this.desired.update(state, host, changes, !full);
    const computeMs = performance.now() - computing;
    const keys = full ? new Set([...this.desired.store.serverKeys(), ...this.mirror.keys()]) : new Set(update.servers);
    // Draining servers are looked at again every sync, with fresh counters.
    for (const id of this.draining.keys()) keys.add(id.slice(0, id.lastIndexOf(' ')));
    if (!full) await this.refresh([...keys].filter((k) => this.mirror.get(k)?.reals.some((r) => r.weight === 0)));
    const hostSet = new Set([...host.ipv4, ...host.ipv6]);
    const { changes: ipvsChanges, deletedFlows } = reconcileIpvs({
      desired: (k) => this.desired.virtualServer(k), observed: this.mirror, keys, draining: this.draining, now: Date.now(),
      owned: (vs) => this.owned(vs, hostSet),
    });
    await this.send(ipvsChanges);
    const addressOps = await this.syncAddresses(full ? undefined : update.addresses);
    const helper = full ? this.desired.helperScript(mode === 'replace' ? 'replace' : 'reassert') : update.helperPlan;
    const applied = await applyScript(helper);
    await deleteFlows(deletedFlows.map(flowFilter)).catch((e: Error) => this.opts.log?.warn({ err: e.message }, 'conntrack cleanup of deleted real servers failed'));
    return { operations: ipvsChanges.length + addressOps + applied.operations, helperBytes: applied.bytes, helperOperations: applied.operations, computeMs };
  }

  /** Addresses of the node's links, but the dummy one's. */
  private async hostAddresses(): Promise<HostAddresses> {
    const all = await this.links.listAddresses();
    const out = { ipv4: [] as string[], ipv6: [] as string[] };
    const dummy = new Set((await this.links.listAddresses(DUMMY_LINK)).map((a) => a.address));
    for (const a of all) if (!dummy.has(a.address)) (a.address.includes(':') ? out.ipv6 : out.ipv4).push(a.address);
    return out;
  }

  private async readKernel(): Promise<Map<string, ObservedVirtualServer>> {
    const out = new Map<string, ObservedVirtualServer>();
    for (const vs of await this.ipvs.listVirtualServers()) out.set(serviceArg(vs), { ...vs, reals: await this.ipvs.listRealServers(vs) });
    return out;
  }

  /** Fresh connection counters for these virtual servers. */
  private async refresh(keys: readonly string[]): Promise<void> {
    for (const k of keys) {
      const vs = this.mirror.get(k)!;
      this.mirror.set(k, { ...vs, reals: await this.ipvs.listRealServers(vs) });
    }
  }

  private owned(vs: ObservedVirtualServer, host: ReadonlySet<string>): boolean {
    if (vs.fwmark !== undefined) return isUsableFwmark(vs.fwmark, this.cfg);
    if (this.cfg.ipvs.excludeCIDRs.some((c) => cidrContains(c, vs.address))) return false;
    return this.bound.has(vs.address) || host.has(vs.address);
  }

  /** Sends the changes in one batch, and keeps the mirror to what the kernel accepted; any refusal fails the sync. */
  private async send(changes: readonly IpvsChange[]): Promise<void> {
    if (changes.length === 0) return;
    const errors = await this.ipvs.apply(changes.map(kernelOperation));
    changes.forEach((c, i) => { if (!errors[i]) applyToMirror(this.mirror, c); });
    const failed = errors.filter((e) => e !== undefined);
    if (failed.length > 0) throw new Error(`${failed.length} of ${changes.length} IPVS changes refused; first: ${failed[0]!.message}`);
  }

  /** The dummy link's addresses to the desired ones: those touched, or all. */
  private async syncAddresses(touched: ReadonlySet<string> | undefined): Promise<number> {
    const want = this.desired.store;
    const family = (a: string) => (a.includes(':') ? 'ipv6' : 'ipv4');
    const candidates = touched ?? new Set([...this.bound, ...Object.values(want.boundAddresses()).flat()]);
    const add = [...candidates].filter((a) => want.isBound(family(a), a) && !this.bound.has(a));
    const del = [...candidates].filter((a) => !want.isBound(family(a), a) && this.bound.has(a));
    const errors = [...await this.links.addAddresses(DUMMY_LINK, add), ...await this.links.deleteAddresses(DUMMY_LINK, del)];
    for (const a of add) this.bound.add(a);
    for (const a of del) this.bound.delete(a);
    const failed = errors.filter((e) => e !== undefined);
    if (failed.length > 0) throw new Error(`${failed.length} address changes on ${DUMMY_LINK} refused; first: ${failed[0]!.message}`);
    return add.length + del.length;
  }
}

function kernelOperation(c: IpvsChange): IpvsOperation {
  const rs = (r: { address: string; port: number; weight: number }) => ({ address: r.address, port: r.port, weight: r.weight, forwardMethod: 'masq' as const, upperThreshold: 0, lowerThreshold: 0 });
  switch (c.op) {
    case 'add-virtual-server': case 'update-virtual-server': {
      const { reals: _r, servicePort: _s, ...vs } = c.vs;
      return { op: c.op, vs };
    }
    case 'delete-virtual-server': return { op: c.op, vs: c.vs };
    case 'add-real-server': case 'update-real-server': return { op: c.op, vs: c.vs, rs: rs(c.rs) };
    case 'delete-real-server': return { op: c.op, vs: c.vs, rs: { address: c.rs.address, port: c.rs.port } };
  }
}

/** What the kernel holds after a change it accepted (connection counters as they were). */
function applyToMirror(mirror: Map<string, ObservedVirtualServer>, c: IpvsChange): void {
  const key = serviceArg(c.vs);
  const vs = mirror.get(key);
  const same = (a: { address: string; port: number }, b: { address: string; port: number }) => a.address === b.address && a.port === b.port;
  switch (c.op) {
    case 'add-virtual-server': case 'update-virtual-server': {
      const { reals: _r, servicePort: _s, ...settings } = c.vs;
      mirror.set(key, { ...settings, reals: vs?.reals ?? [] });
      return;
    }
    case 'delete-virtual-server': mirror.delete(key); return;
    case 'add-real-server': mirror.set(key, { ...vs!, reals: [...vs!.reals, { ...c.rs, activeConns: 0, inactiveConns: 0 }] }); return;
    case 'update-real-server': mirror.set(key, { ...vs!, reals: vs!.reals.map((r) => (same(r, c.rs) ? { ...r, weight: c.rs.weight } : r)) }); return;
    case 'delete-real-server': mirror.set(key, { ...vs!, reals: vs!.reals.filter((r) => !same(r, c.rs)) }); return;
  }
}

function flowFilter(f: DeletedFlow) {
  return { family: f.vs.family, origDst: f.vs.address, origDport: f.vs.port ?? 0, replySrc: f.rs.address };
}

/**
 * What IPVS mode leaves on a node, removed: the IPVS table, flushed whole as
 * kube-proxy's cleanup flushes it, and the dummy link; with kubeProxy, kube-
 * proxy's kube-ipvs0 too. Nothing is touched (nor ip_vs loaded) on a node
 * where neither link exists.
 */
export async function deleteIpvsState(kubeProxy: boolean): Promise<void> {
  const links = LinkClient.open();
  try {
    const names = [DUMMY_LINK, ...(kubeProxy ? ['kube-ipvs0'] : [])];
    const present = [];
    for (const name of names) if ((await links.linkIndex(name)) !== undefined) present.push(name);
    if (present.length === 0) return;
    const ipvs = await IpvsClient.open();
    try {
      await ipvs.flush();
    } finally {
      await ipvs.close();
    }
    for (const name of present) await links.deleteLink(name);
  } finally {
    await links.close();
  }
}
