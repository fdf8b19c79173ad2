// Deletes UDP conntrack entries with the conntrack tool (one call per filter).
import { spawn } from 'node:child_process';
import type { StaleFlow } from '../policy/stale-flows.js';

export async function deleteFlows(flows: readonly StaleFlow[]): Promise<void> {
  for (const f of flows) {
    const args = ['-D', '-f', f.family, '-p', 'udp', '--dport', String(f.origDport)];
    if (f.origDst) args.push('--orig-dst', f.origDst);
    if (f.replySrc) args.push('--reply-src', f.replySrc);
    await conntrack(args);
  }
}

function conntrack(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('conntrack', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run conntrack: ${e.message}`)));
    // Exit 1 with "0 flow entries" just means there was nothing to delete.
    child.on('close', (code) => (code === 0 || /0 flow entries/.test(err) ? resolve() : reject(new Error(`conntrack ${args.join(' ')}: ${err.trim()}`))));
  });
}
