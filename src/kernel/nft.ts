// The only code that runs nft: a script on stdin, one atomic transaction.
import { execTool } from './exec.js';
import { TABLE } from '../backends/nftables/model.js';

export class NftError extends Error {}

export async function runNft(args: readonly string[], input = ''): Promise<string> {
  const r = await execTool('nft', args, input).catch((e: Error) => { throw new NftError(e.message); });
  if (r.code !== 0) throw new NftError(`nft ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Apply a script atomically: all of it or none of it. */
export async function applyScript(script: string): Promise<void> {
  if (script.trim() !== '') await runNft(['-f', '-'], script);
}

/** Delete svcrouter's tables (and with kubeProxy, kube-proxy's); missing ones are fine. */
export async function deleteTables(kubeProxy: boolean): Promise<void> {
  const names = kubeProxy ? [TABLE, 'kube-proxy'] : [TABLE];
  const script = names.flatMap((n) => ['ip', 'ip6'].flatMap((f) => [`add table ${f} ${n}`, `delete table ${f} ${n}`])).join('\n');
  await applyScript(script + '\n');
}
