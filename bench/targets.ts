// The project's performance targets on its 2-core machine (bench/README.md),
// each checked against a run's figures.
import type { ChangeFigures } from './agent-scenarios.js';
import { kilo } from './format.js';
import { churnKey, DEFAULT_PERIOD_CHURN, get, overListingFloorMs, type SizeResult, type TargetResult } from './results.js';

interface Target {
  readonly id: string;
  readonly text: string;
  readonly limit: number;
  readonly unit: TargetResult['unit'];
  /** The sizes it applies at. */
  readonly at: readonly number[];
  readonly value: (s: SizeResult) => number | null | undefined;
}

const agent = (s: SizeResult) => get(s.agent);
const endpointChanges = (s: SizeResult): ChangeFigures[] => {
  const c = get(agent(s)?.changes);
  return c ? [c.endpointAdded, c.endpointRemoved] : [];
};
/** The worse of two figures (the two kinds of endpoint change; two peaks; two settled RSS). */
const worst = (xs: (number | null)[]) => (xs.length === 0 || xs.includes(null) ? null : Math.max(...(xs as number[])));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : a / b);
/** VmHWM after the cold start and after the 100/s churn, the last to read it (it never falls, and covers the 20/s churn before). */
const peakRss = (s: SizeResult) => worst([get(agent(s)?.coldStart)?.peakRssMiB ?? null, churn(s, 100)?.peakRssMiB ?? null]);
const churn = (s: SizeResult, ratePerS: number) => get(agent(s)?.churn[churnKey(ratePerS)]);

// At 10k x 10 unless the target names its sizes, as the issue states them.
const PER_SIZE: readonly Target[] = [
  { id: 'cold-start-10k', text: 'cold start <= 3 s at 10k', limit: 3000, unit: 'ms', at: [10_000], value: (s) => get(agent(s)?.coldStart)?.fromListMs },
  { id: 'cold-start-30k', text: 'cold start <= 8 s at 30k', limit: 8000, unit: 'ms', at: [30_000], value: (s) => get(agent(s)?.coldStart)?.fromListMs },
  { id: 'cold-start-floor', text: 'cold start <= 1.5x the nft -f floor', limit: 1.5, unit: 'ratio', at: [10_000], value: (s) => ratio(get(agent(s)?.coldStart)?.fromListMs, get(s.floor)?.medianMs) },
  { id: 'start-over-listing', text: 'start -> committed <= listing floor + 2 s', limit: 2000, unit: 'ms', at: [10_000], value: (s) => { const a = agent(s); return a && overListingFloorMs(a); } },
  { id: 'peak-rss', text: 'peak RSS <= 150 MiB', limit: 150, unit: 'MiB', at: [10_000], value: (s) => peakRss(s) },
  { id: 'peak-rss-30k', text: 'peak RSS <= 300 MiB at 30k', limit: 300, unit: 'MiB', at: [30_000], value: (s) => peakRss(s) },
  { id: 'settled-rss', text: 'settled RSS (after start, after churn) <= 120 MiB', limit: 120, unit: 'MiB', at: [10_000], value: (s) => worst([get(agent(s)?.settled)?.rssMiB ?? null, get(agent(s)?.idle)?.rssMiB ?? null]) },
  { id: 'endpoint-change-median', text: 'one endpoint change median <= 15 ms (1k, 30k)', limit: 15, unit: 'ms', at: [1000, 30_000], value: (s) => worst(endpointChanges(s).map((c) => c.medianMs)) },
  { id: 'endpoint-change-p99', text: 'one endpoint change p99 <= 30 ms (1k, 30k)', limit: 30, unit: 'ms', at: [1000, 30_000], value: (s) => worst(endpointChanges(s).map((c) => c.p99Ms)) },
  { id: 'churn-p99', text: 'churn (100/s) p99 <= 250 ms', limit: 250, unit: 'ms', at: [10_000], value: (s) => churn(s, 100)?.p99Ms },
  { id: 'churn-cpu', text: 'churn (100/s) CPU <= 100 millicores', limit: 100, unit: 'millicores', at: [10_000], value: (s) => churn(s, 100)?.millicores },
  { id: 'churn-20-cpu', text: 'churn (20/s, default --min-sync-period) CPU <= 40 millicores', limit: 40, unit: 'millicores', at: [10_000], value: (s) => get(agent(s)?.churn[DEFAULT_PERIOD_CHURN])?.millicores },
  { id: 'idle-cpu', text: 'idle CPU <= 5 millicores', limit: 5, unit: 'millicores', at: [10_000], value: (s) => get(agent(s)?.idle)?.millicores },
];

const p99Us = (s: SizeResult) => get(s.dataPlane)?.svcrouter.firstPacket?.p99Us;

export function evaluateTargets(sizes: readonly SizeResult[]): TargetResult[] {
  const out: TargetResult[] = [];
  for (const t of PER_SIZE) {
    for (const s of sizes.filter((x) => t.at.includes(x.services))) {
      const value = t.value(s) ?? null;
      out.push({ id: t.id, text: t.text, services: s.services, value, limit: t.limit, unit: t.unit, met: value === null ? null : value <= t.limit });
    }
  }
  // First packet stays flat: the largest N against the smallest (30k against 1k in a full run).
  if (sizes.length > 1) {
    const [small, large] = [sizes[0], sizes[sizes.length - 1]];
    const a = p99Us(small);
    const b = p99Us(large);
    const value = a === undefined || b === undefined ? null : Number((b - a).toFixed(1));
    out.push({ id: 'first-packet-flat', text: `first-packet p99 at ${kilo(large.services)} <= ${kilo(small.services)}'s + 10 us`, services: large.services, value, limit: 10, unit: 'us', met: value === null ? null : value <= 10 });
  }
  return out;
}
