// The shape of bench/results/*.json: every figure of one run.
import type { ChangeFigures, ChangeKind, Churn, ColdStart, Idle, Settled } from './agent-scenarios.js';
import type { LayoutFigures } from './data-plane.js';
import type { ListingFloor } from './listing-floor.js';
import type { MemoryBreakdown } from './memory-breakdown.js';
import type { ModeName } from './modes.js';
import type { RulesetSize } from './svcrouter-rules.js';

/** A section that failed says why instead. */
export type Outcome<T> = T | { readonly error: string };

export const ok = <T>(o: Outcome<T>): o is T => !(typeof o === 'object' && o !== null && 'error' in o);

/** The value when the section succeeded, else undefined: for reading figures out of results. */
export const get = <T>(o: Outcome<T> | undefined): T | undefined => (o !== undefined && ok(o) ? o : undefined);

export async function attempt<T>(section: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await section();
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Every failed section of a run, as "where: why". */
export function sectionErrors(sizes: readonly SizeResult[], label: (n: number) => string): string[] {
  const out: string[] = [];
  const visit = (where: string, o: unknown) => {
    if (!o || typeof o !== 'object') return;
    if ('error' in o) out.push(`${where}: ${(o as { error: string }).error}`);
    else for (const [k, v] of Object.entries(o)) if (k !== 'agentWarnings') visit(`${where} ${k}`, v);
  };
  for (const x of sizes) visit(label(x.services), { agent: x.agent, dataPlane: x.dataPlane, floor: x.floor });
  return out;
}

/** Start -> first commit less the listing floor: what the agent adds to merely listing. */
export function overListingFloorMs(a: AgentFigures): number | undefined {
  const c = get(a.coldStart);
  const f = get(a.listingFloor);
  return c && f ? c.totalMs - f.medianMs : undefined;
}

export interface NftElementReference {
  readonly reps: number;
  readonly addMs: number | null;
  readonly deleteMs: number | null;
}

/** Where churn figures are kept in AgentFigures.churn: by rate, "20/s". */
export const churnKey = (ratePerS: number) => `${ratePerS}/s`;
/** The 20/s churn again, by an agent with kube-proxy's default --min-sync-period (1 s), as the CPU target assumes. */
export const DEFAULT_PERIOD_CHURN = '20/s, --min-sync-period=1s';

export interface AgentFigures {
  /** Paging through the agent's lists alone, just before it starts. */
  readonly listingFloor: Outcome<ListingFloor>;
  /** On a fresh node: svcrouter's tables are created new. */
  readonly coldStart: Outcome<ColdStart>;
  /** A second agent's start, finding the first one's tables in place (which it replaces in one transaction); absent in older results. */
  readonly restart?: Outcome<ColdStart>;
  /** After the cold start, with nothing changing. */
  readonly settled: Outcome<Settled>;
  /** The agent's parts in a process of its own, on the same objects. */
  readonly memoryBreakdown: Outcome<MemoryBreakdown>;
  readonly changes: Outcome<Record<ChangeKind, ChangeFigures>>;
  /** By rate (churnKey). */
  readonly churn: Readonly<Record<string, Outcome<Churn>>>;
  readonly idle: Outcome<Idle>;
  /** nft -f of one element added to / deleted from the agent's table once it stopped. */
  readonly nftElement: Outcome<NftElementReference>;
  /** The agent's distinct warnings and errors with their counts, first few (agent-bed.ts). */
  readonly agentWarnings: readonly string[];
}

export interface DataPlaneFigures {
  readonly target: { readonly service: string; readonly vip: string; readonly port: number; readonly endpoints: number };
  readonly svcrouter: LayoutFigures;
  readonly kubeProxy: Outcome<LayoutFigures>;
  readonly linear: Outcome<LayoutFigures>;
}

export interface Floor {
  /** nft -f of svcrouter's full dump in fresh namespaces (the data-plane load is one of them). */
  readonly loadsMs: readonly number[];
  readonly medianMs: number;
}

export interface SizeResult {
  readonly services: number;
  readonly endpointsPerService: number;
  readonly endpoints: number;
  readonly objects: number;
  readonly ruleset: RulesetSize;
  readonly agent: Outcome<AgentFigures>;
  readonly dataPlane: Outcome<DataPlaneFigures>;
  readonly floor: Outcome<Floor>;
}

export interface TargetResult {
  readonly id: string;
  readonly text: string;
  /** The N it was evaluated at (the larger one for cross-size targets). */
  readonly services: number;
  readonly value: number | null;
  readonly limit: number;
  readonly unit: 'ms' | 'ratio' | 'MiB' | 'millicores' | 'us';
  /** null: not measurable (the section failed). */
  readonly met: boolean | null;
}

export interface BenchResult {
  readonly mode: ModeName;
  /** What the API served the agent (and the listing floor and memory breakdown): objects dressed as a real API server returns them, or the generator's bare ones. */
  readonly agentObjects: 'realistic' | 'bare';
  readonly date: string;
  readonly host: string;
  readonly environment: Record<string, string | number>;
  readonly durationS: number;
  readonly sizes: SizeResult[];
  readonly targets: readonly TargetResult[];
}
