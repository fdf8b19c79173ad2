// Manifests -> state -> tables (and in IPVS mode, virtual servers) -> script:
// the whole pure core in one call.
import { buildState, type BuildResult, type SourcedObject } from '../state/build.js';
import { loadManifests } from '../manifests/load.js';
import { desiredTables } from '../backends/nftables/desired.js';
import { renderTables } from '../backends/nftables/render.js';
import { planTables } from '../backends/nftables/plan.js';
import { desiredIpvs } from '../backends/ipvs/desired.js';
import { renderIpvsPlan } from '../backends/ipvs/render.js';
import { formatIssue } from '../state/issues.js';
import type { Config } from '../config/config.js';
import type { NftTable } from '../backends/nftables/model.js';
import type { IpvsPlan } from '../backends/ipvs/model.js';

export interface Loaded {
  readonly build: BuildResult;
  readonly tables: NftTable[];
  /** IPVS mode only: the whole plan (its helper tables are `tables`). */
  readonly ipvs?: IpvsPlan;
  /** Problems of the whole input rather than of one object. */
  readonly warnings: readonly string[];
}

export function loadCluster(paths: readonly string[], cfg: Config): Loaded {
  return clusterFrom(loadManifests(paths), cfg);
}

export function clusterFrom(objects: readonly SourcedObject[], cfg: Config): Loaded {
  const build = buildState(objects, { nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  if (cfg.mode === 'nftables') return { build, tables: desiredTables(build.state, cfg), warnings: [] };
  const ipvs = desiredIpvs(build.state, cfg);
  const { node } = build.state;
  const hasNodePorts = [...build.state.servicePorts.values()].some((sp) => sp.nodePort !== 0);
  const warnings = hasNodePorts && node.addresses.ipv4.length + node.addresses.ipv6.length === 0
    ? [`node ${node.name} has no Node object with addresses: no NodePort virtual servers`] : [];
  return { build, tables: [...ipvs.tables], ipvs, warnings };
}

/** The script for `dump`: a full render, or with a base, the incremental plan (nftables mode). */
export function scriptFor(next: Loaded, base?: Loaded): string {
  if (next.ipvs) {
    if (base) throw new Error('--base is for nftables mode only');
    return renderIpvsPlan(next.ipvs);
  }
  return base ? planTables(base.tables, next.tables) : renderTables(next.tables);
}

export function reportProblems(l: Loaded, log: (line: string) => void): void {
  for (const line of [...l.build.ignored, ...l.build.notes, ...l.warnings]) log(`warning: ${line}`);
  for (const i of l.build.issues) log(`error: ${formatIssue(i)} (skipped)`);
}
