// Manifests -> state -> decisions -> tables -> script (or the trace of a
// flow through those decisions): the whole pure core in one call.
import { buildState, type BuildResult, type SourcedObject } from '../state/build.js';
import { loadManifests } from '../manifests/load.js';
import { desiredTables } from '../backends/nftables/desired.js';
import { renderTables } from '../backends/nftables/render.js';
import { planTables } from '../backends/nftables/plan.js';
import { formatIssue } from '../state/issues.js';
import { decideAll, type PortPolicy } from '../policy/port-policy.js';
import { ownAddresses, traceFlow, type TraceReport } from '../trace/trace.js';
import type { Flow } from '../trace/flow.js';
import type { Config } from '../config/config.js';
import type { NftTable } from '../backends/nftables/model.js';

export interface Decided {
  readonly build: BuildResult;
  readonly cfg: Config;
  readonly policies: readonly PortPolicy[];
}

export interface Loaded extends Decided {
  readonly tables: NftTable[];
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
  return { ...d, tables: desiredTables(d.build.state, cfg, d.policies) };
}

/**
 * A flow through what these decisions program. Away from the node, its own
 * addresses are the ones given, else the Node object's (or --node-ip).
 */
export function traceDecided(d: Decided, flow: Flow, nodeAddresses?: readonly string[]): TraceReport {
  const { state, issues } = d.build;
  const view = { node: state.node, serviceCIDRs: state.serviceCIDRs, policies: d.policies, issues };
  return traceFlow(view, d.cfg, flow, ownAddresses(nodeAddresses ?? [...state.node.ips.ipv4, ...state.node.ips.ipv6]));
}

/** The script for `dump`: a full render, or with a base, the incremental plan. */
export function scriptFor(next: Loaded, base?: Loaded): string {
  return base ? planTables(base.tables, next.tables) : renderTables(next.tables);
}

export function reportProblems(l: Decided, log: (line: string) => void): void {
  for (const line of [...l.build.ignored, ...l.build.notes]) log(`warning: ${line}`);
  for (const i of l.build.issues) log(`error: ${formatIssue(i)} (skipped)`);
}
