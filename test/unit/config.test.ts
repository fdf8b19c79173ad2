// kube-proxy's flags and KubeProxyConfiguration, with its precedence.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/load.js';

describe('loadConfig', () => {
  it('reads kube-proxy flags', () => {
    const c = loadConfig({ hostnameOverride: 'Node-A', clusterCidr: '10.244.0.0/16, fd00:244::/32', detectLocalMode: 'NodeCIDR', nodeportAddresses: '192.168.0.0/16', masqueradeAll: true, iptablesMasqueradeBit: '15', nodeIp: '192.168.50.1,fd00:50::1' });
    expect(c).toMatchObject({
      hostname: 'node-a', detectLocalMode: 'NodeCIDR', masqueradeAll: true, masqueradeBit: 15,
      clusterCIDRs: [{ family: 'ipv4', text: '10.244.0.0/16' }, { family: 'ipv6', text: 'fd00:244::/32' }],
      nodePortAddresses: [{ family: 'ipv4', text: '192.168.0.0/16' }],
      nodeIPs: { ipv4: ['192.168.50.1'], ipv6: ['fd00:50::1'] },
    });
  });

  it('takes "primary" for --nodeport-addresses', () => {
    expect(loadConfig({ hostnameOverride: 'n', nodeportAddresses: 'primary' }).nodePortAddresses).toBe('primary');
  });

  it('defaults like kube-proxy in nftables mode', () => {
    const c = loadConfig({ hostnameOverride: 'n' });
    expect(c).toMatchObject({ mode: 'nftables', detectLocalMode: 'ClusterCIDR', nodePortAddresses: 'primary', masqueradeAll: false, masqueradeBit: 14, clusterCIDRs: [] });
  });

  it('with --config, the file wins over flags, except --hostname-override', () => {
    const warnings: string[] = [];
    const c = loadConfig({ config: 'test/fixtures/kube-proxy-config.yaml', masqueradeAll: false, clusterCidr: '10.0.0.0/8' }, (w) => warnings.push(w));
    expect(c).toMatchObject({ hostname: 'node-from-file', masqueradeAll: true, masqueradeBit: 15, nodePortAddresses: [{ family: 'ipv4', text: '192.168.50.0/24' }] });
    expect(c.clusterCIDRs.map((x) => x.text)).toEqual(['10.244.0.0/16', 'fd00:244::/32']);
    expect(warnings.join()).toMatch(/ignored.*clusterCIDR.*masqueradeAll|ignored.*masqueradeAll/);
    expect(loadConfig({ config: 'test/fixtures/kube-proxy-config.yaml', hostnameOverride: 'flag-wins' }).hostname).toBe('flag-wins');
  });

  it('names the field of a bad value', () => {
    expect(() => loadConfig({ hostnameOverride: 'n', detectLocalMode: 'Magic' })).toThrow(/--detect-local-mode: "Magic" is not one of/);
    expect(() => loadConfig({ hostnameOverride: 'n', detectLocalMode: 'BridgeInterface' })).toThrow(/--pod-bridge-interface: required/);
    expect(() => loadConfig({ hostnameOverride: 'n', nodeportAddresses: 'everything' })).toThrow(/--nodeport-addresses: "everything" is not a CIDR/);
    expect(() => loadConfig({ hostnameOverride: 'n', nodeIp: '10.0.0.256' })).toThrow(ConfigError);
    expect(() => loadConfig({ hostnameOverride: 'bad name!' })).toThrow(/--hostname-override: "bad name!" is not a valid node name/);
    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-'));
    writeFileSync(join(dir, 'svc.yaml'), 'apiVersion: v1\nkind: Service\n');
    expect(() => loadConfig({ config: join(dir, 'svc.yaml') })).toThrow(/svc\.yaml: want kind KubeProxyConfiguration/);
    writeFileSync(join(dir, 'bad.yaml'), 'kind: [\n');
    expect(() => loadConfig({ config: join(dir, 'bad.yaml') })).toThrow(/bad\.yaml: line 2: not valid YAML/);
  });
});

describe('loadConfig in IPVS mode', () => {
  it('reads the --ipvs-* flags, with its own periods winning', () => {
    const c = loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs', ipvsScheduler: 'wlc', ipvsTcpTimeout: '15m', ipvsTcpfinTimeout: '30s', ipvsUdpTimeout: '5s',
      ipvsExcludeCidrs: '10.0.0.0/8, fd00::/8', ipvsStrictArp: true, minSyncPeriod: '5s', ipvsMinSyncPeriod: '2s', ipvsSyncPeriod: '1m' });
    expect(c).toMatchObject({
      mode: 'ipvs', minSyncPeriodMs: 2000, syncPeriodMs: 60_000, nodePortAddresses: [],
      ipvs: { scheduler: 'wlc', tcpTimeout: 900, tcpFinTimeout: 30, udpTimeout: 5, strictARP: true,
        excludeCIDRs: [{ family: 'ipv4', text: '10.0.0.0/8' }, { family: 'ipv6', text: 'fd00::/8' }] },
    });
    expect(loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs' }).ipvs).toEqual({ scheduler: 'rr', tcpTimeout: 0, tcpFinTimeout: 0, udpTimeout: 0, excludeCIDRs: [], strictARP: false });
    expect(loadConfig({ hostnameOverride: 'n', ipvsMinSyncPeriod: '2s' }).minSyncPeriodMs).toBe(1000);
  });

  it('reads the ipvs: section of a KubeProxyConfiguration, and masquerade settings from iptables:', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-'));
    writeFileSync(join(dir, 'kp.yaml'), ['apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'kind: KubeProxyConfiguration', 'mode: ipvs', 'hostnameOverride: n',
      'iptables: {masqueradeAll: true, masqueradeBit: 13}', 'ipvs: {scheduler: sh, syncPeriod: 45s, minSyncPeriod: 3s, tcpTimeout: 0s, udpTimeout: 10s, excludeCIDRs: [192.168.0.0/16], strictARP: true}', ''].join('\n'));
    expect(loadConfig({ config: join(dir, 'kp.yaml') })).toMatchObject({
      mode: 'ipvs', masqueradeAll: true, masqueradeBit: 13, syncPeriodMs: 45_000, minSyncPeriodMs: 3000,
      ipvs: { scheduler: 'sh', tcpTimeout: 0, udpTimeout: 10, strictARP: true, excludeCIDRs: [{ family: 'ipv4', text: '192.168.0.0/16' }] },
    });
  });

  it('names the field of a bad IPVS value', () => {
    expect(() => loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs', ipvsUdpTimeout: 'soon' })).toThrow(/--ipvs-udp-timeout: "soon" is not a duration/);
    expect(() => loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs', ipvsExcludeCidrs: '10.0.0.0/99' })).toThrow(/--ipvs-exclude-cidrs: "10\.0\.0\.0\/99" is not a CIDR/);
    expect(() => loadConfig({ hostnameOverride: 'n', proxyMode: 'ipvs', ipvsScheduler: 'x'.repeat(16) })).toThrow(/--ipvs-scheduler: .* is not a scheduler name/);
  });
});
