// The only code that writes nftables: a script, one atomic transaction.
// Small ones (every incremental sync) run in-process through libnftables,
// over a netlink socket kept open (libnftables-addon.c: why that matters for
// deletions). Large ones (a full load) go to an `nft -f` child: nft's parser
// needs about 1.7 KB per element (455 MB for 270k elements), which must not
// stay in the agent's heap, and a child gives it back when it exits.
import { createRequire } from 'node:module';
import { TABLE } from '../backends/nftables/model.js';
import { execTool } from './exec.js';

/** Scripts longer than this go to a child nft (about 20k elements). */
const IN_PROCESS_MAX_BYTES = 1 << 20;

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
  const run = queue.then(() => (script.length > IN_PROCESS_MAX_BYTES ? runChild(script) : runInProcess(script)));
  queue = run.catch(() => undefined);
  return run;
}

function runInProcess(script: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { addon, ctx } = open();
    addon.run(ctx, script, (err) => (err ? reject(new NftError(`nft: ${err.message.trim()}`)) : resolve()));
  });
}

async function runChild(script: string): Promise<void> {
  const r = await execTool('nft', ['-f', '-'], script).catch((e: Error) => { throw new NftError(e.message); });
  if (r.code !== 0) throw new NftError(`nft -f exited ${r.code}: ${r.stderr.trim()}`);
}

/** Delete svcrouter's tables (and with kubeProxy, kube-proxy's); missing ones are fine. */
export async function deleteTables(kubeProxy: boolean): Promise<void> {
  const names = kubeProxy ? [TABLE, 'kube-proxy'] : [TABLE];
  const script = names.flatMap((n) => ['ip', 'ip6'].flatMap((f) => [`add table ${f} ${n}`, `delete table ${f} ${n}`])).join('\n');
  await applyScript(script + '\n');
}
