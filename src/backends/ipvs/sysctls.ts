// The sysctls kube-proxy's IPVS mode sets, gated on the kernel's version as
// it gates them.
import type { Config } from '../../config/config.js';

export interface Sysctl {
  readonly name: string;
  readonly value: string;
}

/** `release` as uname -r prints it ("6.1.0-57-amd64"). */
export function ipvsSysctls(release: string, cfg: Config): Sysctl[] {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  const at = (ma: number, mi: number) => major > ma || (major === ma && minor >= mi);
  return [
    // Netfilter conntrack for IPVS flows: postrouting's masquerade needs it.
    { name: 'net.ipv4.vs.conntrack', value: '1' },
    // 4.1 to 5.8 drop a SYN reusing a port of a finished connection for a second (kube-proxy #70747, #93297).
    ...(at(4, 1) && !at(5, 9) ? [{ name: 'net.ipv4.vs.conn_reuse_mode', value: '0' }] : []),
    // Packets of a deleted real server's connections are dropped at once, not black-holed.
    { name: 'net.ipv4.vs.expire_nodest_conn', value: '1' },
    // Affinity moves off a draining (weight 0) real server.
    { name: 'net.ipv4.vs.expire_quiescent_template', value: '1' },
    { name: 'net.ipv4.ip_forward', value: '1' },
    // Other links do not answer ARP for addresses bound to the dummy link.
    ...(cfg.ipvs.strictARP ? [{ name: 'net.ipv4.conf.all.arp_ignore', value: '1' }, { name: 'net.ipv4.conf.all.arp_announce', value: '2' }] : []),
  ];
}
