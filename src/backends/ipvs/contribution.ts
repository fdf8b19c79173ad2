// One service port's decision -> its virtual servers, the addresses it binds
// and its elements of the helper table. Pure: the same decision and context
// give the same contribution, so the agent can derive a port's old
// contribution again to take it away.
import type { Config } from '../../config/config.js';
import { withoutNested } from '../../state/addr.js';
import type { Endpoint, Family } from '../../state/types.js';
import type { NoEndpointVerdict, PortPolicy } from '../../policy/port-policy.js';
import { markText } from '../nftables/layout.js';
import { withComment } from '../nftables/model.js';
import type { Contribution } from '../nftables/desired.js';
import { ServiceFlags } from '../../kernel/ipvs/model.js';
import type { RealServer, VirtualServer, VirtualServerKey } from './model.js';

/** What every port of a family shares: this node's own addresses and those NodePorts answer on. */
export interface FamilyContext {
  readonly family: Family;
  /** Addresses of the node's links: a service address among them is not bound again. */
  readonly hostAddresses: ReadonlySet<string>;
  readonly nodePortIPs: readonly string[];
}

export interface IpvsContribution {
  readonly id: string;
  readonly family: Family;
  readonly helper: Contribution;
  readonly virtualServers: readonly VirtualServer[];
  readonly addresses: readonly string[];
}

/** `fwmark` is the port's short-circuit mark, when it has short-circuit endpoints. */
export function portIpvsContribution(p: PortPolicy, cfg: Config, ctx: FamilyContext, fwmark: number | undefined): IpvsContribution {
  const { sp } = p;
  const elements: [string, string, string][] = [];
  const add = (set: string, key: string, value = '') => elements.push([set, key, value]);
  const c = (data: string) => withComment(data, sp.id.slice(0, 128));
  const vipKey = (ip: string) => `${ip} . ${sp.protocol} . ${sp.port}`;
  const npKey = `${sp.protocol} . ${sp.nodePort}`;
  const noEndpoint = (v: NoEndpointVerdict) => (v === 'reject' ? 'goto reject-chain' : 'drop');
  const servers: VirtualServer[] = [];
  const server = (key: VirtualServerKey, eps: readonly Endpoint[]) => servers.push({ ...key, ...scheduling(p, cfg), reals: reals(eps), servicePort: sp.id });

  const externals = [...sp.externalIPs, ...sp.loadBalancerIPs];
  const addresses = [sp.clusterIP, ...externals.filter((ip) => !ctx.hostAddresses.has(ip))];
  add('cluster-ips', sp.clusterIP);
  for (const ip of addresses) {
    add('bound-ips', ip);
    add('bound-ports', vipKey(ip));
  }
  for (const ip of p.hairpin) add('hairpin', `${ip} . ${ip}`);

  server({ family: sp.family, protocol: sp.protocol, address: sp.clusterIP, port: sp.port }, p.internal);
  if (p.internalVerdict) add('no-endpoint-services', vipKey(sp.clusterIP), c(noEndpoint(p.internalVerdict)));

  const entry = sp.externalPolicyLocal ? 'local' : 'cluster';
  const mark = fwmark === undefined ? undefined : markText(fwmark);
  for (const ip of externals) {
    server({ family: sp.family, protocol: sp.protocol, address: ip, port: sp.port }, p.external);
    if (p.externalDispatched) add('external-ips', vipKey(ip), c(`goto external-${entry}`));
    if (mark) add('shortcircuit-ips', vipKey(ip), c(mark));
    if (p.externalVerdict) add('no-endpoint-services', vipKey(ip), c(noEndpoint(p.externalVerdict)));
  }
  if (sp.nodePort !== 0) {
    for (const ip of ctx.nodePortIPs) server({ family: sp.family, protocol: sp.protocol, address: ip, port: sp.nodePort }, p.external);
    if (p.externalDispatched) add('external-nodeports', npKey, c(sp.externalPolicyLocal ? 'goto nodeport-local' : 'goto external-cluster'));
    if (mark) add('shortcircuit-nodeports', npKey, c(mark));
    if (p.externalVerdict) add('no-endpoint-nodeports', npKey, c(noEndpoint(p.externalVerdict)));
  }
  if (fwmark !== undefined) {
    server({ family: sp.family, fwmark }, p.shortCircuit);
    add('shortcircuit-marks', mark!);
  }
  if (p.firewallAllow) {
    const allowed = withoutNested(p.firewallAllow);
    for (const ip of sp.loadBalancerIPs) {
      add('firewall-ips', vipKey(ip));
      for (const r of allowed) add('firewall-allow', `${vipKey(ip)} . ${r.text}`);
    }
  }
  return { id: sp.id, family: sp.family, helper: { elements, sets: [], chains: [], rules: [] }, virtualServers: servers, addresses };
}

/** Whether a port's decision needs a short-circuit virtual server (and so a firewall mark). */
export function needsFwmark(p: PortPolicy): boolean {
  return p.shortCircuit.length > 0;
}

/** kube-proxy: ClientIP affinity is persistence per client address; mh hashes the source port too. */
function scheduling(p: PortPolicy, cfg: Config): Pick<VirtualServer, 'scheduler' | 'flags' | 'timeout' | 'netmask'> {
  const timeout = p.sp.affinityTimeout;
  const flags = (timeout > 0 ? ServiceFlags.persistent : 0) | (cfg.ipvs.scheduler === 'mh' ? ServiceFlags.sched2 : 0);
  return { scheduler: cfg.ipvs.scheduler, flags, timeout, netmask: p.sp.family === 'ipv4' ? 32 : 128 };
}

function reals(eps: readonly Endpoint[]): RealServer[] {
  return eps.map((e) => ({ address: e.ip, port: e.port, weight: 1 }))
    .sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
}
