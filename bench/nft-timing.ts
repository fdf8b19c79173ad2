// Wall time of `nft -f FILE` (the nft CLI, spawned, process start included)
// inside a namespace, optionally abandoned past a cap; and throwaway
// namespaces for loads that must start from an empty kernel.
import { spawn, spawnSync } from 'node:child_process';
import { run } from '../test/support/netns.js';
import { atExit } from './cleanup.js';
import { uniqueName } from './workspace.js';

/** Milliseconds, or null when the cap was hit (nft is then killed). */
export function timeNft(ns: string, file: string, capMs = Infinity): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // `ip netns exec` execs nft, so the child is nft itself and a kill reaches it.
    const child = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    const unregister = atExit(() => child.kill('SIGKILL'));
    let stderr = '';
    let capped = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = Number.isFinite(capMs) ? setTimeout(() => ((capped = true), child.kill('SIGKILL')), capMs) : undefined;
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      unregister();
      if (capped) resolve(null);
      else if (code === 0) resolve(ms);
      else reject(new Error(`nft -f ${file} in ${ns}: exit ${code}: ${stderr.trim().slice(0, 500)}`));
    });
  });
}

/** Runs fn in a new empty namespace, deleted afterwards whatever happens. */
export async function inFreshNamespace<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `${uniqueName()}-load`;
  await run(['ip', 'netns', 'add', ns]);
  const unregister = atExit(() => spawnSync('ip', ['netns', 'del', ns]));
  try {
    return await fn(ns);
  } finally {
    await run(['ip', 'netns', 'del', ns]).catch(() => {});
    unregister();
  }
}
