// nftables mode's kernel side for the agent: the tables kept incrementally,
// committed as one transaction per sync (only the changes, as netlink when
// they are set elements only; or a whole script written as it is generated;
// new tables in steps), and watched for changes by others; after a whole
// rewrite, conntrack entries made while the rules were missing are cleared.
import type { Config } from '../config/config.js';
import { FAMILIES, type ProxyState } from '../state/types.js';
import { IncrementalTables } from '../backends/nftables/incremental.js';
import type { RenderMode } from '../backends/nftables/render.js';
import type { Logger } from 'pino';
import { applyScript, type Applied } from '../kernel/nft.js';
import { createTables } from '../kernel/nftables/new-tables.js';
import { writeElementChanges } from '../kernel/nftables/element-writer.js';
import { deleteUnNatted, listFlows } from '../kernel/conntrack.js';
import { unNattedFlows } from '../policy/stale-flows.js';
import type { Plan } from '../backends/nftables/plan.js';
import type { TamperWatch } from './tamper-watch.js';
import { everyPort, type PortPolicy } from '../policy/port-policy.js';
import type { Committed, DataPlane, PlaneInput, SyncMode } from './data-plane.js';

/**
 * kube-proxy's largeClusterEndpointsThreshold: above it, the periodic resync
 * reasserts rules only, as kube-proxy stops periodic full resyncs there (a
 * full rewrite at 10k services costs more than a second of nft every period).
 */
const LARGE_CLUSTER_ENDPOINTS = 1000;

export class NftablesPlane implements DataPlane {
  /** What the kernel should hold, kept incrementally. */
  private readonly tables = new IncrementalTables();

  constructor(private readonly cfg: Config, private readonly tamper: TamperWatch | undefined, private readonly log: Logger) {}

  async commit(mode: SyncMode, { state, decided, base, all }: PlaneInput): Promise<Committed> {
    const started = performance.now();
    if (mode === 'replace') this.tables.reset();
    const applying = mode === 'replace' ? everyPort(all()) : decided;
    // A reassert carries this sync's own changes, as a plan: it alone writes a new load-balancing chain's rules.
    const plan = this.tables.update(state, this.cfg, applying, base, mode !== 'replace');
    const computed = performance.now();
    // Full scripts are written as they are generated (never held whole): their rendering is timed as it happens.
    const rendering = { ms: 0 };
    const whole = (m: RenderMode) => timed(this.tables.script(all, m), rendering);
    const run = () => mode === 'replace' ? this.replace(all, rendering, whole)
      : mode === 'plan' ? applyPlan(plan)
      : applyScript(timed(this.tables.reassert(plan, all, reassertMode(state)), rendering));
    const applied = await (this.tamper ? this.tamper.around(mode, run, (a) => a.transactions) : run());
    const commitMs = performance.now() - computed - rendering.ms;
    return { bytes: applied.bytes, operations: applied.operations, transactions: applied.transactions, computeMs: computed - started, renderMs: rendering.ms, commitMs };
  }

  /**
   * The tables rewritten whole: created in steps where there are none (a
   * node's first start: new-tables.ts), else replaced in one transaction.
   */
  private async replace(all: () => Iterable<PortPolicy>, rendering: { ms: number }, whole: (m: RenderMode) => Iterable<string>): Promise<Applied> {
    const sources = this.tables.sources(all).map((t) => ({ ...t, elementGroups: () => timed(t.elementGroups()[Symbol.iterator](), rendering) }));
    const created = await createTables(sources).catch((e: Error) => {
      this.log.warn({ err: e.message }, 'creating the tables in steps failed; replacing them in one transaction');
      return undefined;
    });
    return created ?? applyScript(whole('replace'));
  }

  async afterReplace(all: () => Iterable<PortPolicy>): Promise<void> {
    const listed = await Promise.all(FAMILIES.flatMap((f) => (['tcp', 'udp'] as const).map((p) => listFlows(f, p))));
    const stale = unNattedFlows(listed.flat(), all());
    if (stale.length === 0) return;
    await deleteUnNatted(stale);
    this.log.info({ frontends: stale.length }, 'cleared conntrack entries made while the rules were missing');
  }

  async tampered(): Promise<boolean> {
    return this.tamper ? this.tamper.tampered(() => this.tables.shapes()) : false;
  }

  /** The kernel's ruleset generation is still the one our own last commit left, nobody having committed since our last full write. */
  async unchanged(): Promise<boolean> {
    return this.tamper ? this.tamper.untouched() : false;
  }

  failed(): void {
    this.tamper?.forget();
  }

  watch(request: () => void): () => void {
    return this.tamper ? this.tamper.watch(this.cfg.syncPeriodMs, request) : () => undefined;
  }

  async close(): Promise<void> {}
}

/** A plan of element changes goes straight to the kernel as netlink when it can; any other through nft. */
async function applyPlan(plan: Plan): Promise<Applied> {
  return (plan.elements && await writeElementChanges(plan.elements)) || applyScript(plan.script);
}

/** Every object, or (a large cluster) declarations, chains and rules only. */
function reassertMode(state: ProxyState): 'reassert' | 'reassert-rules' {
  let endpoints = 0;
  for (const eps of state.endpoints.values()) endpoints += eps.length;
  return endpoints > LARGE_CLUSTER_ENDPOINTS ? 'reassert-rules' : 'reassert';
}

/** Passes `gen` through, adding the time spent generating it to `into.ms`. */
function* timed<T>(gen: Iterator<T>, into: { ms: number }): Generator<T> {
  for (;;) {
    const t = performance.now();
    const r = gen.next();
    into.ms += performance.now() - t;
    if (r.done) return;
    yield r.value;
  }
}
