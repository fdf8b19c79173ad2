// The only code that writes nftables: a script, one atomic transaction, run
// in-process by libnftables over a netlink socket kept open for the life of
// the process (libnftables-addon.c says why that matters: deletions).
import { createRequire } from 'node:module';
import { TABLE } from '../backends/nftables/model.js';

export class NftError extends Error {}

interface Addon {
  create(): object;
  run(ctx: object, script: string, done: (err: Error | null) => void): void;
}

let context: { addon: Addon; ctx: object } | undefined;
/** One script at a time per context: each waits for the one before it. */
let queue: Promise<void> = Promise.resolve();

function open(): { addon: Addon; ctx: object } {
  if (!context) {
    let addon: Addon;
    try {
      addon = createRequire(import.meta.url)('./libnftables.node') as Addon;
    } catch (e) {
      throw new NftError(`cannot load the libnftables addon (install libnftables-dev, then npm run build): ${(e as Error).message}`);
    }
    context = { addon, ctx: addon.create() };
  }
  return context;
}

/** Apply a script atomically: all of it or none of it. */
export function applyScript(script: string): Promise<void> {
  if (script.trim() === '') return queue;
  const run = queue.then(() => new Promise<void>((resolve, reject) => {
    const { addon, ctx } = open();
    addon.run(ctx, script, (err) => (err ? reject(new NftError(`nft: ${err.message.trim()}`)) : resolve()));
  }));
  queue = run.catch(() => undefined);
  return run;
}

/** Delete svcrouter's tables (and with kubeProxy, kube-proxy's); missing ones are fine. */
export async function deleteTables(kubeProxy: boolean): Promise<void> {
  const names = kubeProxy ? [TABLE, 'kube-proxy'] : [TABLE];
  const script = names.flatMap((n) => ['ip', 'ip6'].flatMap((f) => [`add table ${f} ${n}`, `delete table ${f} ${n}`])).join('\n');
  await applyScript(script + '\n');
}
