// Deletes UDP conntrack entries with the conntrack tool (one call per filter).
import { execTool } from './exec.js';
import type { StaleFlow } from '../policy/stale-flows.js';

export async function deleteFlows(flows: readonly StaleFlow[]): Promise<void> {
  for (const f of flows) {
    const args = ['-D', '-f', f.family, '-p', 'udp', '--dport', String(f.origDport)];
    if (f.origDst) args.push('--orig-dst', f.origDst);
    if (f.replySrc) args.push('--reply-src', f.replySrc);
    await conntrack(args);
  }
}

async function conntrack(args: string[]): Promise<void> {
  const r = await execTool('conntrack', args);
  // Exit 1 with "0 flow entries" just means there was nothing to delete.
  if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
}
