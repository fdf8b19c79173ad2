// Reads, over one nf_tables netlink socket, what the agent needs to notice
// that someone else changed its tables: the ruleset generation (one small
// request, cheap enough to ask every second), and one table's shape (its
// chains with their rule counts, and its sets), without its elements, which
// `nft list` would fetch too (seconds at scale).
import { constants } from 'node:os';
import { NetlinkError } from '../netlink/errors.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { NETLINK_NETFILTER, chainsRequest, decodeGeneration, decodeTableMember, generationRequest, isAnonymousSet, rulesRequest, setsRequest, type NftFamily } from './messages.js';

const { ENOENT } = constants.errno;

export type { NftFamily } from './messages.js';

/** A table as its chains (with how many rules each holds) and its sets. */
export interface TableShape {
  readonly chains: ReadonlyMap<string, number>;
  readonly sets: ReadonlySet<string>;
}

export class NftInspector {
  private constructor(private readonly socket: NetlinkSocket) {}

  static open(options: { netns?: string } = {}): NftInspector {
    return new NftInspector(NetlinkSocket.open(NETLINK_NETFILTER, options.netns));
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  /** The ruleset generation: it moves with every committed transaction, anyone's. */
  async generation(): Promise<number> {
    const [reply] = await this.socket.exchange([generationRequest()], { inline: true });
    if (reply!.errno) throw new NetlinkError('read the nftables generation', reply!.errno);
    return decodeGeneration(reply!.messages[0]!);
  }

  /** The shape of table `family table`, or undefined when there is no such table. */
  async shape(family: NftFamily, table: string): Promise<TableShape | undefined> {
    const [chainsReply, rulesReply, setsReply] = await this.socket.exchange([chainsRequest(family), rulesRequest(family, table), setsRequest(family, table)]);
    for (const [what, r] of [['chains', chainsReply!], ['rules', rulesReply!], ['sets', setsReply!]] as const) {
      if (r.errno === ENOENT) return undefined;
      if (r.errno) throw new NetlinkError(`list the ${what} of ${family} ${table}`, r.errno);
    }
    const chains = new Map<string, number>();
    for (const m of chainsReply!.messages) {
      const [t, name] = decodeTableMember(m, 'chain');
      if (t === table) chains.set(name, 0);
    }
    if (chains.size === 0) return undefined; // our tables always have chains: a table without any is not ours any more
    for (const m of rulesReply!.messages) {
      const [t, chain] = decodeTableMember(m, 'rule');
      if (t === table) chains.set(chain, (chains.get(chain) ?? 0) + 1);
    }
    const sets = new Set<string>();
    for (const m of setsReply!.messages) {
      const [t, name] = decodeTableMember(m, 'set');
      if (t === table && !isAnonymousSet(m)) sets.add(name);
    }
    return { chains, sets };
  }
}
