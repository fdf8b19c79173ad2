// How much each mode measures. quick: a few minutes; full: everything (well
// under an hour); smoke: tiny sizes, only proves the harness runs end to end.

export type ModeName = 'smoke' | 'quick' | 'full';

export interface Mode {
  readonly name: ModeName;
  readonly sizes: readonly number[];
  readonly endpointsPerService: number;
  /** One-at-a-time changes per kind (endpoint added, endpoint removed, service added). */
  readonly changes: number;
  /** Stop a kind's changes early past this, so a slow agent cannot stretch the run. */
  readonly changesBudgetMs: number;
  /** Endpoint changes per second of each churn, in the order they run: the slower first, so no burst's aftermath lands in it. */
  readonly churnRatesPerS: readonly number[];
  readonly churnSeconds: number;
  readonly idleSeconds: number;
  readonly connects: number;
  readonly warmupConnects: number;
  /** A reference layout's full load is abandoned past this (kube-proxy's shape takes minutes at 10k). */
  readonly referenceLoadCapMs: number;
  /** Repetitions of the floors (nft -f of the dump, the listing floor) and of one-service adds. */
  readonly loadReps: number;
  readonly elementReps: number;
  readonly coldStartTimeoutMs: number;
  /** Pause after tearing down a namespace with a big ruleset: its cleanup runs in the background. */
  readonly settleMs: number;
  /**
   * Quiet before the agent's settled RSS and idle CPU are read, after its
   * cold start and after churn: for about 40 s after a burst, V8's memory
   * reducer collects the heap a few times (at 10k, 13.5 millicores in each of
   * the first two 20 s windows, then 1.5-3), which is the burst's cost, not
   * the idle one's.
   */
  readonly agentSettleMs: number;
}

const base = { endpointsPerService: 10, churnRatesPerS: [20, 100], warmupConnects: 200 };

export const MODES: Record<ModeName, Mode> = {
  smoke: {
    ...base, name: 'smoke', sizes: [100], changes: 5, changesBudgetMs: 10_000, churnSeconds: 2, idleSeconds: 2,
    connects: 200, referenceLoadCapMs: 20_000, loadReps: 1, elementReps: 3, coldStartTimeoutMs: 30_000, settleMs: 0, agentSettleMs: 3000,
  },
  quick: {
    ...base, name: 'quick', sizes: [1000, 10_000], changes: 50, changesBudgetMs: 40_000, churnSeconds: 15, idleSeconds: 15,
    connects: 1000, referenceLoadCapMs: 60_000, loadReps: 3, elementReps: 10, coldStartTimeoutMs: 180_000, settleMs: 2000, agentSettleMs: 45_000,
  },
  full: {
    ...base, name: 'full', sizes: [1000, 10_000, 30_000], changes: 200, changesBudgetMs: 120_000, churnSeconds: 60, idleSeconds: 60,
    connects: 3000, referenceLoadCapMs: 300_000, loadReps: 3, elementReps: 20, coldStartTimeoutMs: 600_000, settleMs: 3000, agentSettleMs: 45_000,
  },
};
