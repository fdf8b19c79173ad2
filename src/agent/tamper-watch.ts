// Notices when someone else changes svcrouter's tables (an admin, another
// tool, `nft flush ruleset`), so that the agent restores them. The kernel's
// ruleset generation moves with every committed transaction: the agent
// remembers the generation its own last commit produced, and only when the
// kernel is past it does it compare the tables' shape (chains and their rule
// counts, sets) with what it committed. Reading the generation is one small
// netlink request; reading a shape, a few dumps without set elements.
import type { Logger } from 'pino';
import type { NftInspector, NftFamily, TableShape } from '../kernel/nftables/inspector.js';
import type { SyncMode } from './data-plane.js';

/** How often the kernel's ruleset generation is read (at most every --sync-period). */
const CHECK_MS = 1000;

/** What svcrouter committed to one family's table. */
export interface ExpectedTable {
  readonly family: NftFamily;
  readonly chains: ReadonlyMap<string, number>;
  readonly sets: readonly string[];
}

export class TamperWatch {
  /** The generation at which the kernel held exactly what we committed; undefined: unknown. */
  private known: number | undefined;
  /** The generation our own last commit left, if that commit must have left exactly what we committed. */
  private cleanOwn: number | undefined;
  /** The kernel differs from our own last commit with nobody else involved: said once, never restored in a loop. */
  private stuck = false;
  /** Someone else committed since the tables were last known good: the next sync compares them. */
  private due = false;
  /** A commit of ours succeeded: there is something to watch. */
  private committed = false;
  /**
   * The generation our own last commit left, when nobody else had committed
   * since our last full write (a replace, or a reassert: it puts back what it
   * can), so that another reassert would find nothing to do. Known from our
   * own commits only, never from a comparison of shapes.
   */
  private settled: number | undefined;

  constructor(
    private readonly inspector: NftInspector,
    private readonly table: string,
    private readonly log: Logger,
    private readonly onRestore: () => void,
  ) {}

  /**
   * Reads the kernel's generation every second (or sync period, if shorter)
   * once a commit of ours succeeded; when someone else has committed, asks
   * for a sync, whose tampered() compares.
   */
  watch(syncPeriodMs: number, request: () => void): () => void {
    const timer = setInterval(() => {
      if (!this.committed || this.due) return;
      this.moved().then((moved) => {
        if (!moved) return;
        this.due = true;
        request();
      }, (e: Error) => this.log.debug({ err: e.message }, 'cannot read the nftables generation'));
    }, Math.min(CHECK_MS, syncPeriodMs));
    return () => clearInterval(timer);
  }

  /** When the watch saw someone else commit: whether our tables were changed (verify()). */
  async tampered(expected: () => readonly ExpectedTable[]): Promise<boolean> {
    if (!this.due) return false;
    this.due = false;
    return this.verify(expected());
  }

  /** Nobody has committed since our last full write and the commits after it: a reassert would find nothing to do. */
  async untouched(): Promise<boolean> {
    if (this.settled === undefined) return false;
    return (await this.inspector.generation().catch(() => undefined)) === this.settled; // unreadable: reassert
  }

  /**
   * Runs a commit of ours (of this many transactions), keeping track of
   * whether the kernel is known to hold our tables after it; `mode` says
   * whether it rewrites them whole (replace) or puts them back (reassert).
   */
  async around<T>(mode: SyncMode, commit: () => Promise<T>, transactions: (result: T) => number): Promise<T> {
    const before = await this.beforeCommit().catch(() => undefined);
    const wasSettled = before !== undefined && before === this.settled;
    this.settled = undefined; // until this commit is known to have been the only one
    const result = await commit();
    this.committed = true;
    if (before !== undefined) await this.afterCommit(before, transactions(result), mode, wasSettled).catch(() => this.forget());
    return result;
  }

  /**
   * Compares the kernel with what we committed: true when someone else
   * changed our tables and they must be rewritten whole (logged and counted).
   */
  private async verify(expected: readonly ExpectedTable[]): Promise<boolean> {
    const found = await this.damage(expected).catch((e: Error) => ({ damage: `its tables could not be read (${e.message})`, ours: false }));
    if (!found) {
      this.stuck = false;
      return false;
    }
    if (found.ours) {
      // Nobody else has committed since our own commit: the difference is ours. Restoring would loop.
      if (!this.stuck) this.log.error({ damage: found.damage }, 'the tables differ from what svcrouter itself committed; not restoring them (please report this)');
      this.stuck = true;
      return false;
    }
    this.onRestore();
    this.log.warn({ damage: found.damage }, 'svcrouter\'s rules were changed by someone else; restoring them');
    return true;
  }

  /** Someone else committed since the kernel was last known to hold our tables. */
  private async moved(): Promise<boolean> {
    return (await this.inspector.generation()) !== this.known;
  }

  /**
   * The first way the kernel differs from what we committed, and whether
   * nobody else has committed since our own last commit (then the difference
   * is ours, not tampering); undefined when they agree (and the kernel's
   * generation is then known good: what moved it was not ours to mind).
   */
  private async damage(expected: readonly ExpectedTable[]): Promise<{ damage: string; ours: boolean } | undefined> {
    const generation = await this.inspector.generation();
    for (const want of expected) {
      const found = differ(want, await this.inspector.shape(want.family, this.table), `${want.family} ${this.table}`);
      if (found) return { damage: found, ours: generation === this.cleanOwn };
    }
    this.known = generation;
    return undefined;
  }

  /** Before a commit of ours: the generation it starts from. */
  private async beforeCommit(): Promise<number> {
    return this.inspector.generation();
  }

  /**
   * After a sync of ours, which committed some transactions (or none), and
   * rewrote the tables whole or not: if the kernel was known good before it
   * and nobody else committed meanwhile, it is known good now.
   */
  private async afterCommit(before: number, transactions: number, mode: SyncMode, wasSettled: boolean): Promise<void> {
    const now = await this.inspector.generation();
    const onlyOurs = now === before + transactions;
    const whole = mode === 'replace';
    this.settled = onlyOurs && (mode !== 'plan' || wasSettled) ? now : undefined;
    this.known = this.known === before && onlyOurs ? now : undefined;
    // A whole rewrite leaves exactly our tables whatever was there; a change does only on a known-good kernel.
    this.cleanOwn = onlyOurs && (whole || this.known !== undefined) ? now : undefined;
  }

  /** Forget what was known: a commit failed, or the tables were rewritten whole from an unknown state. */
  forget(): void {
    this.known = undefined;
    this.cleanOwn = undefined;
    this.settled = undefined;
  }
}

function differ(want: ExpectedTable, got: TableShape | undefined, table: string): string | undefined {
  if (!got) return `table ${table} is missing`;
  for (const [chain, rules] of want.chains) {
    const n = got.chains.get(chain);
    if (n === undefined) return `chain ${chain} of ${table} is missing`;
    if (n !== rules) return `chain ${chain} of ${table} has ${n} rules, ${rules} expected`;
  }
  for (const chain of got.chains.keys()) if (!want.chains.has(chain)) return `chain ${chain} in ${table} is not svcrouter's`;
  for (const set of want.sets) if (!got.sets.has(set)) return `set ${set} of ${table} is missing`;
  for (const set of got.sets) if (!want.sets.includes(set)) return `set ${set} in ${table} is not svcrouter's`;
  return undefined;
}
