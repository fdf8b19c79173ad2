// What kube-proxy's IPVS mode leaves behind in iptables and ipset, removed as
// its own CleanupLeftovers removes it (pkg/proxy/ipvs/proxier.go): the rules
// that jump to its chains, its chains, then its sets (a set still referenced
// by a rule cannot be destroyed). kube-proxy names its IPv6 sets KUBE-6-...,
// and forgets those; svcrouter removes them too. A node without the tools has
// nothing of this to remove.
import { execTool } from './exec.js';

/** kube-proxy's IPVS chains, by table. Kubelet's (KUBE-FIREWALL, KUBE-KUBELET-CANARY) are not among them. */
const CHAINS: Record<string, readonly string[]> = {
  nat: ['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ'],
  filter: ['KUBE-FORWARD', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER'],
};

const SETS = ['LOOP-BACK', 'CLUSTER-IP', 'EXTERNAL-IP', 'EXTERNAL-IP-LOCAL', 'LOAD-BALANCER', 'LOAD-BALANCER-FW', 'LOAD-BALANCER-LOCAL',
  'LOAD-BALANCER-SOURCE-IP', 'LOAD-BALANCER-SOURCE-CIDR', 'NODE-PORT-TCP', 'NODE-PORT-LOCAL-TCP', 'NODE-PORT-UDP', 'NODE-PORT-LOCAL-UDP',
  'NODE-PORT-SCTP-HASH', 'NODE-PORT-LOCAL-SCTP-HASH', 'HEALTH-CHECK-NODE-PORT', 'IPVS-IPS'];

/** kube-proxy's sets, IPv4 (KUBE-) and IPv6 (KUBE-6-) names. */
export const KUBE_PROXY_IPVS_SETS: readonly string[] = SETS.flatMap((s) => [`KUBE-${s}`, `KUBE-6-${s}`]);

/**
 * An iptables-restore --noflush script that removes kube-proxy's chains from
 * an iptables-save dump: every rule elsewhere that jumps or goes to one of
 * them, then their rules, then the chains. '' when there is nothing.
 */
export function iptablesCleanupScript(save: string): string {
  const out: string[] = [];
  let table: string | undefined;
  let ours = new Set<string>();
  let present: string[] = [];
  let edits: string[] = [];
  const flushTable = () => {
    if (table && (edits.length > 0 || present.length > 0)) {
      out.push(`*${table}`, ...edits, ...present.map((c) => `-F ${c}`), ...present.map((c) => `-X ${c}`), 'COMMIT');
    }
  };
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      ours = new Set(CHAINS[table] ?? []);
      present = [];
      edits = [];
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0]!;
      if (ours.has(chain)) present.push(chain);
    } else if (line.startsWith('-A ')) {
      const [, chain, ...spec] = line.split(' ');
      const target = /(?:^| )-[jg] (\S+)/.exec(spec.join(' '))?.[1];
      if (!ours.has(chain!) && target && ours.has(target)) edits.push(`-D ${chain} ${spec.join(' ')}`);
    } else if (line.trim() === 'COMMIT') {
      flushTable();
      table = undefined;
    }
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** Removes kube-proxy's IPVS-mode chains (both families, nft and legacy backends) and sets. */
export async function deleteKubeProxyIptables(): Promise<void> {
  for (const tool of ['iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy']) {
    const save = await execTool(`${tool}-save`, []).catch(() => undefined);
    if (!save || save.code !== 0) continue; // not installed, or that backend unusable here: nothing of it to remove
    const script = iptablesCleanupScript(save.stdout);
    if (script === '') continue;
    const r = await execTool(`${tool}-restore`, ['--noflush'], script);
    if (r.code !== 0) throw new Error(`${tool}-restore: ${r.stderr.trim()}`);
  }
  const listed = await execTool('ipset', ['list', '-n']).catch(() => undefined);
  if (!listed || listed.code !== 0) return;
  const mine = new Set(KUBE_PROXY_IPVS_SETS);
  for (const name of listed.stdout.split('\n').map((l) => l.trim()).filter((n) => mine.has(n))) {
    const r = await execTool('ipset', ['destroy', name]);
    if (r.code !== 0) throw new Error(`ipset destroy ${name}: ${r.stderr.trim()}`);
  }
}
