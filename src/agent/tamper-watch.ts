// Notices when someone else changes svcrouter's tables (an admin, another
// tool, `nft flush ruleset`), so that the agent restores them. The kernel's
// ruleset generation moves with every committed transaction: the agent
// remembers the generation its own last commit produced, and only when the
// kernel is past it does it compare the tables' shape (chains and their rule
// counts, sets) with what it committed. Reading the generation is one small
// netlink request; reading a shape, a few dumps without set elements.
import type { NftInspector, NftFamily, TableShape } from '../kernel/nftables/inspector.js';

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

  constructor(private readonly inspector: NftInspector, private readonly table: string) {}

  /** Someone else committed since the kernel was last known to hold our tables. */
  async moved(): Promise<boolean> {
    return (await this.inspector.generation()) !== this.known;
  }

  /**
   * The first way the kernel differs from what we committed, and whether
   * nobody else has committed since our own last commit (then the difference
   * is ours, not tampering); undefined when they agree (and the kernel's
   * generation is then known good: what moved it was not ours to mind).
   */
  async damage(expected: readonly ExpectedTable[]): Promise<{ damage: string; ours: boolean } | undefined> {
    const generation = await this.inspector.generation();
    for (const want of expected) {
      const found = differ(want, await this.inspector.shape(want.family, this.table), `${want.family} ${this.table}`);
      if (found) return { damage: found, ours: generation === this.cleanOwn };
    }
    this.known = generation;
    return undefined;
  }

  /** Before a commit of ours: the generation it starts from. */
  async beforeCommit(): Promise<number> {
    return this.inspector.generation();
  }

  /**
   * After a sync of ours, which sent a transaction or not, and rewrote the
   * tables whole or not: if the kernel was known good before it and nobody
   * else committed meanwhile, it is known good now.
   */
  async afterCommit(before: number, sent: boolean, whole: boolean): Promise<void> {
    const now = await this.inspector.generation();
    const onlyOurs = now === before + (sent ? 1 : 0);
    this.known = this.known === before && onlyOurs ? now : undefined;
    // A whole rewrite leaves exactly our tables whatever was there; a change does only on a known-good kernel.
    this.cleanOwn = onlyOurs && (whole || this.known !== undefined) ? now : undefined;
  }

  /** Forget what was known: a commit failed, or the tables were rewritten whole from an unknown state. */
  forget(): void {
    this.known = undefined;
    this.cleanOwn = undefined;
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
