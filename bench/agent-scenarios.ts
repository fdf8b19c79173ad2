// What the agent is measured doing (sections 1-4 of bench/README.md): cold
// start, settling, one change at a time, steady churn, and idling. Each
// change is tied to its commit by resourceVersion: the agent logs, on every
// 'synced' line, the newest API event the sync folded in.
import { setTimeout as sleep } from 'node:timers/promises';
import { commits, isSynced, type AgentBed, type LogLine } from './agent-bed.js';
import type { ClusterChanges } from './cluster-changes.js';
import type { Mode } from './modes.js';
import { cpuSample, memoryMiB, millicores } from './proc-stats.js';
import { step, tick } from './progress.js';
import { median, quantile, round } from './stats.js';
import type { Raw } from './synthetic-cluster.js';

export interface ColdStart {
  /** Process start -> first commit: the agent's whole start, which less the listing floor is what the agent adds. */
  readonly totalMs: number;
  /** Cold start: the API list starting ('svcrouter started', logged as the watches start) -> first commit. */
  readonly fromListMs: number;
  /** Process start -> 'svcrouter started': Node and the modules loading. */
  readonly startupMs: number;
  /** 'svcrouter started' -> 'caches synced; programming': the initial lists, each object normalized as it arrives. */
  readonly listMs: number;
  /** The first sync's own phases, as the agent logs them (null when it does not). */
  readonly computeMs: number | null;
  readonly renderMs: number | null;
  readonly commitMs: number | null;
  readonly bytes: number;
  readonly operations: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

export async function measureColdStart(bed: AgentBed, mode: Mode): Promise<ColdStart> {
  const started = await bed.untilLog((l) => l.msg === 'svcrouter started', mode.coldStartTimeoutMs);
  const listed = await bed.untilLog((l) => l.msg === 'caches synced; programming', mode.coldStartTimeoutMs);
  const first = await bed.untilLog(isSynced, mode.coldStartTimeoutMs);
  return {
    totalMs: first.time - bed.startedAt,
    fromListMs: first.time - started.time,
    startupMs: started.time - bed.startedAt,
    listMs: listed.time - started.time,
    computeMs: field(first, 'computeMs'),
    renderMs: field(first, 'renderMs'),
    commitMs: field(first, 'commitMs'),
    bytes: first.bytes,
    operations: first.operations,
    ...memoryMiB(bed.pid),
  };
}

const field = (l: LogLine, name: string): number | null => (typeof l[name] === 'number' ? l[name] : null);

export interface Settled {
  /** Quiet after the first commit. */
  readonly seconds: number;
  readonly rssMiB: number;
}

/** VmRSS once the cold start's garbage is collected, with nothing changing. */
export async function measureSettled(bed: AgentBed, mode: Mode, label: string): Promise<Settled> {
  step(`${label}: settling for ${mode.agentSettleMs / 1000} s after the cold start`);
  await sleep(mode.agentSettleMs);
  return { seconds: mode.agentSettleMs / 1000, rssMiB: memoryMiB(bed.pid).rssMiB };
}

export type ChangeKind = 'endpointAdded' | 'endpointRemoved' | 'serviceAdded';

export interface ChangeFigures {
  readonly requested: number;
  readonly samples: number;
  /** The API server's event (its watch stream written) -> the 'synced' line of the commit that holds it. */
  readonly medianMs: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /**
   * The fake API server's write call (store, encode, write to each watch),
   * left out of the latencies: it runs in the bench's process, whose
   * collections of the whole realistic cluster are no part of the agent's.
   */
  readonly apiWriteMsP99: number | null;
  /** The agent's own commit phase of those syncs: the kernel's share. */
  readonly commitMsMedian: number | null;
  readonly bytesMedian: number | null;
  readonly operationsMedian: number | null;
}

/**
 * Between changes, so each one meets an agent that has finished with the last,
 * and past the agent's --min-sync-period (100 ms, see agent-bed.ts): a lone
 * change is then programmed at once, as it would be on a quiet node.
 */
const PAUSE_MS = 120;
const COMMIT_TIMEOUT_MS = 60_000;

export async function measureChanges(bed: AgentBed, changes: ClusterChanges, mode: Mode, label: string): Promise<Record<ChangeKind, ChangeFigures>> {
  requireResourceVersions(bed);
  const writes: Record<ChangeKind, (k: number) => Raw[]> = {
    endpointAdded: (k) => [changes.addEndpoint(changes.target(k))],
    endpointRemoved: (k) => [changes.removeEndpoint(changes.target(k))],
    serviceAdded: () => changes.addService(),
  };
  const out = {} as Record<ChangeKind, ChangeFigures>;
  for (const [kind, write] of Object.entries(writes) as [ChangeKind, (k: number) => Raw[]][]) {
    step(`${label}: ${kind}`);
    const latencies: number[] = [];
    const apiWrites: number[] = [];
    const lines: LogLine[] = [];
    const started = performance.now();
    for (let k = 0; k < mode.changes && performance.now() - started < mode.changesBudgetMs; k++) {
      tick(`${label}: ${kind} ${k + 1}/${mode.changes}`);
      const objects = write(k);
      const asked = Date.now();
      const rv = Math.max(...objects.map((o) => bed.cluster.write(o)));
      const sent = Date.now();
      const line = await bed.untilCommitted(rv, COMMIT_TIMEOUT_MS);
      apiWrites.push(sent - asked);
      latencies.push(line.time - sent);
      lines.push(line);
      await sleep(PAUSE_MS);
    }
    const commitMs = lines.map((l) => field(l, 'commitMs'));
    out[kind] = {
      requested: mode.changes,
      samples: latencies.length,
      medianMs: median(latencies),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.length ? Math.max(...latencies) : null,
      apiWriteMsP99: quantile(apiWrites, 0.99),
      commitMsMedian: commitMs.every((x) => x !== null) ? round(median(commitMs as number[]), 2) : null,
      bytesMedian: median(lines.map((l) => l.bytes)),
      operationsMedian: median(lines.map((l) => l.operations)),
    };
  }
  return out;
}

export interface Churn {
  readonly ratePerS: number;
  readonly seconds: number;
  readonly changes: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly syncs: number;
  readonly millicores: number;
  readonly childMillicores: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

/** Endpoint changes at a fixed rate, each on the next service of the visiting order (from `offset`). */
export async function measureChurn(bed: AgentBed, changes: ClusterChanges, ratePerS: number, mode: Mode, offset: number, label: string): Promise<Churn> {
  requireResourceVersions(bed);
  step(`${label}: churn, ${ratePerS}/s for ${mode.churnSeconds} s`);
  const total = Math.round(ratePerS * mode.churnSeconds);
  const interval = 1000 / ratePerS;
  const sent: { at: number; rv: number }[] = [];
  const cpu0 = cpuSample(bed.pid);
  for (let k = 0; k < total; k++) {
    const wait = cpu0.wallMs + k * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const rv = bed.cluster.write(changes.toggleEndpoint(changes.target(offset + k)));
    sent.push({ at: Date.now(), rv });
  }
  const cpu1 = cpuSample(bed.pid);
  const memory = memoryMiB(bed.pid);
  await bed.untilCommitted(sent[sent.length - 1].rv, COMMIT_TIMEOUT_MS);
  // Synced lines come in commit order, so their resourceVersions never decrease: one pass attributes every change.
  const synced = bed.agent.logs.filter(commits(sent[0].rv));
  const latencies: number[] = [];
  let i = 0;
  for (const { at, rv } of sent) {
    while (Number(synced[i].lastResourceVersion) < rv) i++;
    latencies.push(synced[i].time - at);
  }
  return {
    ratePerS, seconds: mode.churnSeconds, changes: total,
    p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), maxMs: Math.max(...latencies),
    syncs: synced.length,
    ...millicores(cpu0, cpu1),
    ...memory,
  };
}

export interface Idle {
  /** The window, after mode.agentSettleMs of quiet. */
  readonly seconds: number;
  readonly millicores: number;
  readonly childMillicores: number;
  /** VmRSS at the window's end: the settled RSS after churn. */
  readonly rssMiB: number;
}

export async function measureIdle(bed: AgentBed, mode: Mode, label: string): Promise<Idle> {
  step(`${label}: settling for ${mode.agentSettleMs / 1000} s, then idle for ${mode.idleSeconds} s`);
  await sleep(mode.agentSettleMs);
  const a = cpuSample(bed.pid);
  await sleep(mode.idleSeconds * 1000);
  const b = cpuSample(bed.pid);
  return { seconds: mode.idleSeconds, ...millicores(a, b), rssMiB: memoryMiB(bed.pid).rssMiB };
}

function requireResourceVersions(bed: AgentBed): void {
  const first = bed.agent.logs.find(isSynced);
  if (first?.lastResourceVersion === undefined) {
    throw new Error("the agent's 'synced' line has no lastResourceVersion: changes cannot be tied to their commits");
  }
}
