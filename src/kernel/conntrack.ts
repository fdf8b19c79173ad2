// Deletes UDP conntrack entries with the conntrack tool (one call per filter).
import { execTool } from './exec.js';

/** One `conntrack -D` filter on UDP entries, in the tool's own terms. */
export interface UdpFlowFilter {
  readonly family: 'ipv4' | 'ipv6';
  /** Original destination address; unset: any. */
  readonly origDst?: string;
  readonly origDport: number;
  /** Reply source address; unset: any. */
  readonly replySrc?: string;
}

export async function deleteFlows(flows: readonly UdpFlowFilter[]): Promise<void> {
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
