// svcrouter's tables where there are none yet (a node's first start), loaded
// in steps that no packet sees until the last:
//  1. one nft transaction creates each table inert: its sets, its regular
//     chains and their rules, no base chain. It fails if a table exists (a
//     restart, a restore); then nothing has changed, and the caller replaces
//     the tables atomically instead.
//  2. the elements of hash sets and maps go to the kernel as netlink requests
//     (element-writer.ts), encoded as they are generated, a transaction per
//     datagram: nft's parser would spend most of a large load reading them.
//  3. one nft transaction adds the elements only nft encodes (intervals) and
//     the base chains: the tables go live whole, at once.
// If step 2 or 3 fails the tables stay inert, and the caller's atomic replace
// deletes them.
import { elementText, TABLE } from '../../backends/nftables/model.js';
import { newTableLines, pushElements, type TableSource } from '../../backends/nftables/render.js';
import { applyScript, type Applied } from '../nft.js';
import { ElementStream } from './element-writer.js';

/**
 * Creates the tables of `sources`, or resolves undefined (having changed
 * nothing) when nft refuses to create them, as it does when one exists.
 */
export async function createTables(sources: readonly TableSource[]): Promise<Applied | undefined> {
  const inert = await applyScript(sources.flatMap((t) => [...newTableLines(t, 'inert')])).catch(() => undefined);
  if (!inert) return undefined;
  const stream = new ElementStream();
  const byNft: string[] = [];
  for (const t of sources) {
    const decls = new Map(t.sets);
    const texts = new Map<string, string[]>();
    for (const group of t.elementGroups()) {
      for (const [set, key, value] of group) {
        if (stream.add(t.family, set, decls.get(set) ?? '', key, value)) {
          const sending = stream.full();
          if (sending) await sending;
          continue;
        }
        let list = texts.get(set);
        if (!list) texts.set(set, (list = []));
        list.push(elementText(key, value));
      }
    }
    for (const [set, list] of texts) pushElements(byNft, 'add', `${t.family} ${TABLE}`, set, list);
  }
  await stream.finish();
  const hooks = await applyScript([...byNft, ...sources.flatMap((t) => [...newTableLines(t, 'hooks')])]);
  return {
    bytes: inert.bytes + stream.bytes + hooks.bytes,
    operations: inert.operations + stream.requests + hooks.operations,
    transactions: inert.transactions + stream.transactions + hooks.transactions,
  };
}
