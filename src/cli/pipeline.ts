// Manifests -> state -> decisions -> tables (and in IPVS mode, virtual
// servers) -> script, or the trace of a flow through those decisions: the
// whole pure core in one call.
import { buildState, type BuildResult, type SourcedObject } from '../state/build.js';
import { loadManifests } from '../manifests/load.js';
import { desiredTables } from '../backends/nftables/desired.js';
import { renderTables } from '../backends/nftables/render.js';
import { planTables } from '../backends/nftables/plan.js';
import { desiredIpvs, desiredIpvsState } from '../backends/ipvs/desired.js';
import type { HostAddresses } from '../backends/ipvs/family.js';
import { parseIP } from '../state/addr.js';
import type { Family } from '../state/types.js';
import { renderIpvsPlan } from '../backends/ipvs/render.js';
import { formatIssue } from '../state/issues.js';
import { decideAll, type PortPolicy } from '../policy/port-policy.js';
import { ownAddresses, traceFlow, type TraceReport } from '../trace/trace.js';
import type { Flow } from '../trace/flow.js';
import type { Config } from '../config/config.js';
import type { NftTable } from '../backends/nftables/model.js';
import type { IpvsPlan } from '../backends/ipvs/model.js';

export interface Decided {
  readonly build: BuildResult;
  readonly cfg: Config;
  readonly policies: readonly PortPolicy[];
}

export interface Loaded extends Decided {
  readonly tables: NftTable[];
  /** IPVS mode only: the whole plan (its helper tables are `tables`). */
  readonly ipvs?: IpvsPlan;
  /** Problems of the whole input rather than of one object. */
  readonly warnings: readonly string[];
}

export function loadCluster(paths: readonly string[], cfg: Config): Loaded {
  return clusterFrom(loadManifests(paths), cfg);
}

export function decideCluster(objects: readonly SourcedObject[], cfg: Config): Decided {
  const build = buildState(objects, { nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  return { build, cfg, policies: decideAll(build.state) };
}

export function clusterFrom(objects: readonly SourcedObject[], cfg: Config): Loaded {
  const d = decideCluster(objects, cfg);
  if (cfg.mode === 'nftables') return { ...d, tables: desiredTables(d.build.state, cfg, d.policies), warnings: [] };
  const { state } = d.build;
  const ipvs = desiredIpvs(state, cfg, state.node.addresses, d.policies);
  const hasNodePorts = [...state.servicePorts.values()].some((sp) => sp.nodePort !== 0);
  const warnings = hasNodePorts && state.node.addresses.ipv4.length + state.node.addresses.ipv6.length === 0
    ? [`node ${state.node.name} has no Node object with addresses: no NodePort virtual servers`] : [];
  return { ...d, tables: [...ipvs.tables], ipvs, warnings };
}

/**
 * A flow through what these decisions program. Away from the node, its own
 * addresses are the ones given, else the Node object's (or --node-ip); in IPVS
 * mode, where they make the NodePort virtual servers as in `dump`, else every
 * address of its Node object.
 */
export function traceDecided(d: Decided, flow: Flow, nodeAddresses?: readonly string[]): TraceReport {
  const { state, issues } = d.build;
  const { ips, addresses } = state.node;
  const ipvs = d.cfg.mode === 'ipvs' ? desiredIpvsState(state, d.cfg, nodeAddresses ? byFamily(nodeAddresses) : addresses, d.policies) : undefined;
  const own = nodeAddresses ?? [...ips.ipv4, ...ips.ipv6, ...(ipvs ? [...addresses.ipv4, ...addresses.ipv6] : [])];
  const view = { node: state.node, serviceCIDRs: state.serviceCIDRs, policies: d.policies, issues, ipvs };
  return traceFlow(view, d.cfg, flow, ownAddresses(own));
}

function byFamily(ips: readonly string[]): HostAddresses {
  const parsed = ips.map(parseIP).filter((a) => a !== null);
  const of = (f: Family) => parsed.filter((a) => a.family === f).map((a) => a.ip);
  return { ipv4: of('ipv4'), ipv6: of('ipv6') };
}

/** The script for `dump`: a full render, or with a base, the incremental plan (nftables mode). */
export function scriptFor(next: Loaded, base?: Loaded): string {
  if (next.ipvs) {
    if (base) throw new Error('--base is for nftables mode only');
    return renderIpvsPlan(next.ipvs);
  }
  return base ? planTables(base.tables, next.tables) : renderTables(next.tables);
}

export function reportProblems(l: Decided & { readonly warnings?: readonly string[] }, log: (line: string) => void): void {
  for (const line of [...l.build.ignored, ...l.build.notes, ...(l.warnings ?? [])]) log(`warning: ${line}`);
  for (const i of l.build.issues) log(`error: ${formatIssue(i)} (skipped)`);
}
