// The listing floor: what merely paging through the agent's four lists
// costs, in the agent's namespace against the same fake API server holding
// the same objects, just before the agent starts. The agent's start to its
// first commit, less this, is what the agent itself adds.
import type { ClusterBed } from './cluster-bed.js';
import type { Mode } from './modes.js';
import { runNodeScript } from './node-script.js';
import { step } from './progress.js';
import type { Listed } from './api-lists.js';
import { median, round } from './stats.js';

export interface ListingFloor extends Listed {
  /** Each pass: first request -> last page parsed, in a fresh process (Node's start and module loading excluded). */
  readonly passesMs: readonly number[];
  readonly medianMs: number;
}

export async function measureListingFloor(cluster: ClusterBed, mode: Mode, label: string): Promise<ListingFloor> {
  step(`${label}: the listing floor, the agent's four lists paged ${mode.loadReps} time(s)`);
  const passes: (Listed & { ms: number })[] = [];
  for (let r = 0; r < mode.loadReps; r++) passes.push(await runNodeScript(cluster.topo.nodeNs, 'listing-floor-client', [cluster.api.url, cluster.token]));
  const { pages, items, bytes } = passes[0];
  const passesMs = passes.map((p) => round(p.ms)!);
  return { pages, items, bytes, passesMs, medianMs: median(passesMs)! };
}
