// kube-proxy's IPVS sysctls, by kernel version and --ipvs-strict-arp.
import { describe, expect, it } from 'vitest';
import { ipvsSysctls } from '../../src/backends/ipvs/sysctls.js';
import { loadConfig } from '../../src/config/load.js';

const names = (release: string, strictArp = false) =>
  ipvsSysctls(release, loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs', ipvsStrictArp: strictArp })).map((s) => `${s.name}=${s.value}`);

describe('ipvsSysctls', () => {
  it('sets conntrack, expiry of dead and draining servers and forwarding on every kernel', () => {
    expect(names('6.1.0-57-amd64')).toEqual([
      'net.ipv4.vs.conntrack=1', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1', 'net.ipv4.ip_forward=1']);
  });

  it('turns connection reuse off only on 4.1 to 5.8', () => {
    expect(names('5.8.18')).toContain('net.ipv4.vs.conn_reuse_mode=0');
    expect(names('4.1.0')).toContain('net.ipv4.vs.conn_reuse_mode=0');
    expect(names('5.9.0')).not.toContain('net.ipv4.vs.conn_reuse_mode=0');
    expect(names('4.0.9')).not.toContain('net.ipv4.vs.conn_reuse_mode=0');
  });

  it('strict ARP with --ipvs-strict-arp', () => {
    expect(names('6.18.44', true)).toEqual(expect.arrayContaining(['net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']));
  });
});
