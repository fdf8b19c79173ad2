// Where the agent's memory goes at one cluster size (section 7 of
// bench/README.md): memory-breakdown-client.ts, run with --expose-gc in the
// agent's namespace against the same fake API server and objects.
import { AGENT_FLAGS } from './agent-bed.js';
import type { ClusterBed } from './cluster-bed.js';
import { runNodeScript } from './node-script.js';
import { step } from './progress.js';

/** MiB of heapUsed after gc(), unless named RSS. */
export interface MemoryBreakdown {
  readonly objects: number;
  /** The full load's script: what the agent streams to nft at start. */
  readonly scriptBytes: number;
  readonly scriptLines: number;
  /** A node process that has loaded nothing but Node. */
  readonly bareNodeHeapMiB: number;
  readonly bareNodeRssMiB: number;
  /** dist/cli/main.js imported into it. */
  readonly moduleCodeMiB: number;
  readonly moduleCodeRssMiB: number;
  /** Every object of the four lists, parsed and held. */
  readonly rawObjectsMiB: number;
  /** A StateTracker fed those objects, which are then dropped. */
  readonly stateMiB: number;
  /** PolicyTable.update of every port. */
  readonly policyMiB: number;
  /** IncrementalTables.update with every decision. */
  readonly tablesMiB: number;
  /** The peak while IncrementalTables.script(..., 'replace') is iterated, over the heap before it. */
  readonly scriptPeakMiB: number;
}

export function measureMemoryBreakdown(cluster: ClusterBed, label: string): Promise<MemoryBreakdown> {
  step(`${label}: memory breakdown, in a process of its own`);
  return runNodeScript(cluster.topo.nodeNs, 'memory-breakdown-client', [cluster.api.url, cluster.token, JSON.stringify(AGENT_FLAGS)], ['--expose-gc']);
}
