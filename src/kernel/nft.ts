// The only code that runs nft: a script on stdin, one atomic transaction.
import { spawn } from 'node:child_process';
import { TABLE } from '../backends/nftables/model.js';

export class NftError extends Error {}

export function runNft(args: readonly string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new NftError(`cannot run nft: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new NftError(`nft ${args.join(' ')} exited ${code}: ${err.trim()}`))));
    child.stdin.on('error', () => {}); // nft may exit before reading everything; the exit code tells
    child.stdin.end(input);
  });
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
