// Manifests -> state -> tables -> script: the whole pure core in one call.
import { buildState, type BuildResult, type SourcedObject } from '../state/build.js';
import { loadManifests } from '../manifests/load.js';
import { desiredTables } from '../backends/nftables/desired.js';
import { renderTables } from '../backends/nftables/render.js';
import { planTables } from '../backends/nftables/plan.js';
import { formatIssue } from '../state/issues.js';
import type { Config } from '../config/config.js';
import type { NftTable } from '../backends/nftables/model.js';

export interface Loaded {
  readonly build: BuildResult;
  readonly tables: NftTable[];
}

export function loadCluster(paths: readonly string[], cfg: Config): Loaded {
  return clusterFrom(loadManifests(paths), cfg);
}

export function clusterFrom(objects: readonly SourcedObject[], cfg: Config): Loaded {
  const build = buildState(objects, { nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  return { build, tables: desiredTables(build.state, cfg) };
}

/** The script for `dump`: a full render, or with a base, the incremental plan. */
export function scriptFor(next: Loaded, base?: Loaded): string {
  return base ? planTables(base.tables, next.tables) : renderTables(next.tables);
}

export function reportProblems(l: Loaded, log: (line: string) => void): void {
  for (const line of [...l.build.ignored, ...l.build.notes]) log(`warning: ${line}`);
  for (const i of l.build.issues) log(`error: ${formatIssue(i)} (skipped)`);
}
