// nftables mode's kernel side for the agent: the tables kept incrementally,
// committed as one transaction per sync (only the changes, or a whole script
// written as it is generated), and watched for changes by others.
import type { Config } from '../config/config.js';
import type { ProxyState } from '../state/types.js';
import { IncrementalTables } from '../backends/nftables/incremental.js';
import type { RenderMode } from '../backends/nftables/render.js';
import { applyScript } from '../kernel/nft.js';
import type { TamperWatch } from './tamper-watch.js';
import { everyPort } from '../policy/port-policy.js';
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

  constructor(private readonly cfg: Config, private readonly tamper: TamperWatch | undefined) {}

  async commit(mode: SyncMode, { state, decided, base, all }: PlaneInput): Promise<Committed> {
    const started = performance.now();
    if (mode === 'replace') this.tables.reset();
    const applying = mode === 'replace' ? everyPort(all()) : decided;
    // A reassert of rules only writes no element: this sync's own changes go with it, as a plan.
    const scope = mode === 'reassert' ? reassertScope(state) : 'everything';
    const plan = this.tables.update(state, this.cfg, applying, base, mode === 'plan' || scope === 'rules');
    const computed = performance.now();
    // Full scripts are written as they are generated (never held whole): their rendering is timed as it happens.
    const rendering = { ms: 0 };
    const whole = (m: RenderMode) => timed(this.tables.script(all, m), rendering);
    const script = mode === 'plan' ? plan
      : mode === 'replace' ? whole('replace')
      : scope === 'rules' ? [...lines(plan), ...whole('reassert-rules')]
      : whole('reassert');
    const run = () => applyScript(script);
    const applied = await (this.tamper ? this.tamper.around(mode === 'replace', run, (a) => a.operations > 0) : run());
    const commitMs = performance.now() - computed - rendering.ms;
    return { bytes: applied.bytes, operations: applied.operations, computeMs: computed - started, renderMs: rendering.ms, commitMs };
  }

  async tampered(): Promise<boolean> {
    return this.tamper ? this.tamper.tampered(() => this.tables.shapes()) : false;
  }

  failed(): void {
    this.tamper?.forget();
  }

  watch(request: () => void): () => void {
    return this.tamper ? this.tamper.watch(this.cfg.syncPeriodMs, request) : () => undefined;
  }

  async close(): Promise<void> {}
}

function reassertScope(state: ProxyState): 'everything' | 'rules' {
  let endpoints = 0;
  for (const eps of state.endpoints.values()) endpoints += eps.length;
  return endpoints > LARGE_CLUSTER_ENDPOINTS ? 'rules' : 'everything';
}

/** The lines of a script text. */
function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** Passes `gen` through, adding the time spent generating it to `into.ms`. */
function* timed(gen: Iterator<string>, into: { ms: number }): Generator<string> {
  for (;;) {
    const t = performance.now();
    const r = gen.next();
    into.ms += performance.now() - t;
    if (r.done) return;
    yield r.value;
  }
}
