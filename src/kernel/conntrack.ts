// Lists and deletes conntrack entries with the conntrack tool (one call per filter).
import { execTool } from './exec.js';
import type { TrackedFlow } from '../policy/stale-flows.js';

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

/**
 * The entries that never reached a destination the kernel could rewrite to:
 * TCP ones still unanswered (SYN_SENT: a live connection is never touched),
 * and every UDP one.
 */
export async function listFlows(family: 'ipv4' | 'ipv6', protocol: 'tcp' | 'udp'): Promise<TrackedFlow[]> {
  const args = ['-L', '-f', family, '-p', protocol, ...(protocol === 'tcp' ? ['--state', 'SYN_SENT'] : [])];
  const r = await execTool('conntrack', args);
  if (r.code !== 0) throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
  return parseFlows(r.stdout, family, protocol);
}

/** `conntrack -L` lines: the original tuple's src/dst/sport/dport, then the reply tuple's. */
export function parseFlows(text: string, family: 'ipv4' | 'ipv6', protocol: 'tcp' | 'udp'): TrackedFlow[] {
  const out: TrackedFlow[] = [];
  for (const line of text.split('\n')) {
    const fields = new Map<string, string>();
    let replySrc: string | undefined;
    for (const token of line.split(' ')) {
      const eq = token.indexOf('=');
      if (eq < 0) continue;
      const key = token.slice(0, eq);
      if (key === 'src' && fields.has('src')) {
        replySrc ??= token.slice(eq + 1);
        continue;
      }
      if (!fields.has(key)) fields.set(key, token.slice(eq + 1));
    }
    const origDst = fields.get('dst');
    const origDport = Number(fields.get('dport'));
    if (origDst && replySrc && Number.isInteger(origDport)) out.push({ family, protocol, origDst, origDport, replySrc });
  }
  return out;
}

/** Deletes a frontend's entries that were never DNATed (reply source = original destination); TCP ones only while unanswered. */
export async function deleteUnNatted(flows: readonly Omit<TrackedFlow, 'replySrc'>[]): Promise<void> {
  for (const f of flows) {
    await conntrack(['-D', '-f', f.family, '-p', f.protocol, ...(f.protocol === 'tcp' ? ['--state', 'SYN_SENT'] : []),
      '--orig-dst', f.origDst, '--dport', String(f.origDport), '--reply-src', f.origDst]);
  }
}

async function conntrack(args: string[]): Promise<void> {
  const r = await execTool('conntrack', args);
  // Exit 1 with "0 flow entries" just means there was nothing to delete.
  if (r.code !== 0 && !/0 flow entries/.test(r.stderr)) throw new Error(`conntrack ${args.join(' ')}: ${r.stderr.trim()}`);
}
