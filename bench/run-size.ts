// Everything measured at one cluster size: the agent (the listing floor,
// cold start, settling, memory breakdown, changes, churn, idle), the three
// layouts on the packet path, and the nft -f floor.
import { setTimeout as sleep } from 'node:timers/promises';
import { agentWarnings, startAgent } from './agent-bed.js';
import { measureChanges, measureChurn, measureColdStart, measureIdle, measureSettled, type Churn, type ColdStart } from './agent-scenarios.js';
import type { CTools } from './c-tools.js';
import { startClusterBed, type ClusterBed } from './cluster-bed.js';
import { ClusterChanges } from './cluster-changes.js';
import { kilo } from './format.js';
import { measureLayouts, type LayoutPlan } from './data-plane.js';
import type { Mode } from './modes.js';
import { measureListingFloor } from './listing-floor.js';
import { measureMemoryBreakdown } from './memory-breakdown.js';
import { inFreshNamespace, timeNft } from './nft-timing.js';
import { step } from './progress.js';
import { kubeProxyLayout, linearLayout, referenceServices, type Layout, type RefService } from './reference-layouts.js';
import { attempt, churnKey, DEFAULT_PERIOD_CHURN, get, ok, type AgentFigures, type DataPlaneFigures, type Floor, type NftElementReference, type Outcome, type SizeResult } from './results.js';
import { median, round } from './stats.js';
import { dump, oneElementScripts, rulesetSize, writeManifests } from './svcrouter-rules.js';
import { plainServiceIndices, serviceObjects, syntheticCluster, type Raw } from './synthetic-cluster.js';
import { scratchFile } from './workspace.js';
import { readFileSync } from 'node:fs';

/** `realistic`: the agent's API serves objects dressed as a real API server returns them. */
export async function runSize(n: number, mode: Mode, tools: CTools, realistic: boolean): Promise<SizeResult> {
  const m = mode.endpointsPerService;
  const label = kilo(n);
  step(`${label}: generating the cluster and svcrouter's ruleset`);
  const objects = syntheticCluster(n, m);
  const manifests = writeManifests(`cluster-${n}`, objects);
  const script = await dump(`svcrouter-${n}`, [manifests]);
  const agent = await attempt(() => runAgent(objects, n, mode, script, realistic, label));
  const dataPlane = await attempt(() => runDataPlane(objects, n, mode, tools, manifests, script, label));
  const floor = await attempt(() => runFloor(script, mode, get(dataPlane)?.svcrouter.fullLoadMs ?? undefined, label));
  return {
    services: n,
    endpointsPerService: m,
    endpoints: objects.filter((o) => o.kind === 'EndpointSlice').reduce((sum, o) => sum + o.endpoints.length, 0),
    objects: objects.length,
    ruleset: rulesetSize(readFileSync(script, 'utf8')),
    agent,
    dataPlane,
    floor,
  };
}

async function runAgent(objects: Raw[], n: number, mode: Mode, script: string, realistic: boolean, label: string): Promise<AgentFigures> {
  step(`${label}: the agent's API${realistic ? ', objects dressed as a real one returns them' : ''}`);
  const cluster = await startClusterBed(objects, realistic);
  try {
    const listingFloor = await attempt(() => measureListingFloor(cluster, mode, label));
    step(`${label}: agent cold start`);
    const bed = startAgent(cluster);
    try {
      const coldStart = await attempt(() => measureColdStart(bed, mode));
      const started = ok(coldStart);
      const notStarted = { error: 'the agent did not start' };
      // While the agent settles (it is idle then), its parts are weighed in another process.
      const breakdown = attempt(() => measureMemoryBreakdown(cluster, label));
      const settled = started ? await attempt(() => measureSettled(bed, mode, label)) : notStarted;
      const memoryBreakdown = await breakdown;
      const changes = new ClusterChanges(objects, n, mode.endpointsPerService);
      const oneAtATime = started ? await attempt(() => measureChanges(bed, changes, mode, label)) : notStarted;
      // Each churn visits the services after the ones changed before it.
      const churn: Record<string, Outcome<Churn>> = {};
      let offset = mode.changes;
      for (const rate of mode.churnRatesPerS) {
        const from = offset;
        churn[churnKey(rate)] = started ? await attempt(() => measureChurn(bed, changes, rate, mode, from, label)) : notStarted;
        offset += rate * mode.churnSeconds;
      }
      const idle = started ? await attempt(() => measureIdle(bed, mode, label)) : notStarted;
      await bed.stopAgent();
      const second = started ? await attempt(() => restartForDefaultPeriod(cluster, changes, mode, offset, label)) : notStarted;
      const restarted = get(second);
      churn[DEFAULT_PERIOD_CHURN] = restarted ? restarted.churn : second as { error: string };
      const restart = restarted ? restarted.start : second as { error: string };
      const nftElement = started ? await attempt(() => measureElementReference(cluster.topo.nodeNs, script, mode, label)) : notStarted;
      return { listingFloor, coldStart, restart, settled, memoryBreakdown, changes: oneAtATime, churn, idle, nftElement, agentWarnings: agentWarnings(bed.agent.logs).slice(0, 10) };
    } finally {
      await bed.destroy();
    }
  } finally {
    await cluster.destroy();
    await sleep(mode.settleMs);
  }
}

/**
 * A second agent, with kube-proxy's default --min-sync-period (1 s): its
 * start, on the tables the first one left (a restart), and the 20/s churn,
 * which that period batches into one or two syncs a second: the setting the
 * CPU target is stated for. (The bench's own agent batches 100 ms, for latency.)
 */
async function restartForDefaultPeriod(cluster: ClusterBed, changes: ClusterChanges, mode: Mode, offset: number, label: string): Promise<{ start: ColdStart; churn: Churn }> {
  step(`${label}: a restart, an agent with the default --min-sync-period, for the 20/s churn`);
  const bed = startAgent(cluster, { minSyncPeriod: '1s' });
  try {
    const start = await measureColdStart(bed, mode);
    // As before idle: V8's memory reducer collects the cold start's heap 8-13 s after it (at 10k,
    // two full collections, about 150 ms of CPU), which is the start's cost, not the churn's.
    step(`${label}: settling for ${mode.agentSettleMs / 1000} s after its cold start`);
    await sleep(mode.agentSettleMs);
    const churn = await measureChurn(bed, changes, 20, mode, offset, label);
    await bed.stopAgent();
    return { start, churn };
  } finally {
    await bed.destroy();
  }
}

/** The kernel floor of one endpoint change: nft -f of a single element, against the table the agent left. */
async function measureElementReference(ns: string, script: string, mode: Mode, label: string): Promise<NftElementReference> {
  step(`${label}: nft -f of one element`);
  const scripts = oneElementScripts(script);
  const add = scratchFile('element-add.nft', scripts.add);
  const del = scratchFile('element-delete.nft', scripts.delete);
  const adds: number[] = [];
  const deletes: number[] = [];
  for (let r = 0; r < mode.elementReps; r++) {
    adds.push((await timeNft(ns, add))!);
    deletes.push((await timeNft(ns, del))!);
  }
  return { reps: mode.elementReps, addMs: round(median(adds), 2), deleteMs: round(median(deletes), 2) };
}

async function runDataPlane(objects: Raw[], n: number, mode: Mode, tools: CTools, manifests: string, script: string, label: string): Promise<DataPlaneFigures> {
  const services = referenceServices(objects);
  // The last service generated: the worst case for linear matching.
  const target = services.filter((s) => s.protocol === 'tcp' && s.endpoints.length > 0).pop()!;
  // Added services are plain TCP ClusterIPs, so every layout adds the same thing.
  const extra = plainServiceIndices(n, mode.loadReps).map((i) => serviceObjects(i, mode.endpointsPerService));
  step(`${label}: svcrouter's one-service plans`);
  const extraFile = writeManifests(`extra-${n}`, extra[0]);
  const add = await dump(`svcrouter-${n}-add`, [manifests, extraFile], [manifests]);
  const undo = await dump(`svcrouter-${n}-undo`, [manifests], [manifests, extraFile]);
  const reference = (layout: Layout): LayoutPlan => ({
    name: layout.name,
    full: scratchFile(`${layout.name}-${n}.nft`, layout.full(services)),
    serviceAdds: extra.map((objs, k) => ({ add: scratchFile(`${layout.name}-${n}-add-${k}.nft`, layout.addService(onlyService(objs))) })),
    loadCapMs: mode.referenceLoadCapMs,
  });
  const plans = [{ name: 'svcrouter', full: script, serviceAdds: extra.map(() => ({ add, undo })), loadCapMs: null }, reference(kubeProxyLayout), reference(linearLayout)];
  const [svcrouter, kubeProxy, linear] = await measureLayouts(plans, { target, connects: mode.connects, warmup: mode.warmupConnects, tools }, label);
  await sleep(mode.settleMs);
  if (!ok(svcrouter)) throw new Error(`svcrouter's layout: ${svcrouter.error}`);
  return { target: { service: target.name, vip: target.vip, port: target.port, endpoints: target.endpoints.length }, svcrouter, kubeProxy, linear };
}

const onlyService = (objects: Raw[]): RefService => referenceServices(objects)[0];

/** svcrouter's own full dump loaded alone into fresh namespaces: what the kernel needs for the agent's cold start. */
async function runFloor(script: string, mode: Mode, dataPlaneLoadMs: number | undefined, label: string): Promise<Floor> {
  step(`${label}: the floor, nft -f of svcrouter's dump`);
  const loads = dataPlaneLoadMs === undefined ? [] : [dataPlaneLoadMs];
  while (loads.length < mode.loadReps) {
    loads.push(round((await inFreshNamespace((ns) => timeNft(ns, script)))!)!);
    await sleep(mode.settleMs);
  }
  return { loadsMs: loads, medianMs: median(loads)! };
}
