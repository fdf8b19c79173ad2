// kube-proxy's flags and KubeProxyConfiguration v1alpha1 -> one validated Config.
// Precedence as in kube-proxy: with --config the file wins, except
// --hostname-override, which wins over the file.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import yaml from 'js-yaml';
import { parseCIDR, parseIP } from '../state/addr.js';
import { parseBindAddress } from './bind-address.js';
import type { Cidr, Family } from '../state/types.js';
import { DEFAULT_CONFIG, type Config, type DetectLocalMode, type IpvsConfig } from './config.js';

export class ConfigError extends Error {}

/** The flags as commander hands them over (only those the user gave are set). */
export interface FlagValues {
  config?: string;
  proxyMode?: string;
  hostnameOverride?: string;
  nodeIp?: string;
  clusterCidr?: string;
  detectLocalMode?: string;
  podBridgeInterface?: string;
  podInterfaceNamePrefix?: string;
  nodeportAddresses?: string;
  masqueradeAll?: boolean;
  iptablesMasqueradeBit?: string;
  minSyncPeriod?: string;
  iptablesMinSyncPeriod?: string;
  syncPeriod?: string;
  iptablesSyncPeriod?: string;
  healthzBindAddress?: string;
  metricsBindAddress?: string;
  kubeconfig?: string;
  master?: string;
  ipvsScheduler?: string;
  ipvsSyncPeriod?: string;
  ipvsMinSyncPeriod?: string;
  ipvsTcpTimeout?: string;
  ipvsTcpfinTimeout?: string;
  ipvsUdpTimeout?: string;
  ipvsExcludeCidrs?: string;
  ipvsStrictArp?: boolean;
}

/** Settings in kube-proxy's own vocabulary, before validation. */
interface Settings {
  mode?: unknown;
  hostnameOverride?: unknown;
  clusterCIDR?: unknown;
  detectLocalMode?: unknown;
  bridgeInterface?: unknown;
  interfaceNamePrefix?: unknown;
  nodePortAddresses?: unknown;
  masqueradeAll?: unknown;
  masqueradeBit?: unknown;
  minSyncPeriod?: unknown;
  syncPeriod?: unknown;
  healthzBindAddress?: unknown;
  metricsBindAddress?: unknown;
  kubeconfig?: unknown;
  ipvs?: IpvsSettings;
}

/** The `ipvs:` section's fields, as the --ipvs-* flags give them too. */
interface IpvsSettings {
  scheduler?: unknown;
  syncPeriod?: unknown;
  minSyncPeriod?: unknown;
  tcpTimeout?: unknown;
  tcpFinTimeout?: unknown;
  udpTimeout?: unknown;
  excludeCIDRs?: unknown;
  strictARP?: unknown;
}

export function loadConfig(flags: FlagValues, warn: (msg: string) => void = () => {}): Config {
  const fromFlags: Settings = {
    mode: flags.proxyMode,
    hostnameOverride: flags.hostnameOverride,
    clusterCIDR: flags.clusterCidr,
    detectLocalMode: flags.detectLocalMode,
    bridgeInterface: flags.podBridgeInterface,
    interfaceNamePrefix: flags.podInterfaceNamePrefix,
    nodePortAddresses: flags.nodeportAddresses?.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    masqueradeAll: flags.masqueradeAll,
    masqueradeBit: flags.iptablesMasqueradeBit === undefined ? undefined : Number(flags.iptablesMasqueradeBit),
    minSyncPeriod: flags.minSyncPeriod ?? flags.iptablesMinSyncPeriod,
    syncPeriod: flags.syncPeriod ?? flags.iptablesSyncPeriod,
    healthzBindAddress: flags.healthzBindAddress,
    metricsBindAddress: flags.metricsBindAddress,
    kubeconfig: flags.kubeconfig,
    ipvs: {
      scheduler: flags.ipvsScheduler,
      syncPeriod: flags.ipvsSyncPeriod,
      minSyncPeriod: flags.ipvsMinSyncPeriod,
      tcpTimeout: flags.ipvsTcpTimeout,
      tcpFinTimeout: flags.ipvsTcpfinTimeout,
      udpTimeout: flags.ipvsUdpTimeout,
      excludeCIDRs: flags.ipvsExcludeCidrs?.split(',').map((x) => x.trim()).filter((x) => x !== ''),
      strictARP: flags.ipvsStrictArp,
    },
  };
  let s = fromFlags;
  if (flags.config) {
    const given = ([k, v]: [string, unknown]) => v !== undefined && k !== 'hostnameOverride' && k !== 'ipvs';
    const ignored = [...Object.entries(fromFlags), ...Object.entries(fromFlags.ipvs ?? {}).map(([k, v]) => [`ipvs.${k}`, v] as [string, unknown])].filter(given).map(([k]) => k);
    if (ignored.length > 0) warn(`--config is set, so these flags are ignored as kube-proxy ignores them: ${ignored.join(', ')}`);
    s = { ...readConfigFile(flags.config), ...(flags.hostnameOverride !== undefined ? { hostnameOverride: flags.hostnameOverride } : {}) };
  }
  return { ...validate(s, flags.nodeIp, flags.config ? `${flags.config}: ` : '--'), master: flags.master ?? '' };
}

function readConfigFile(file: string): Settings {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'), { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) throw new ConfigError(`${file}: line ${(e.mark?.line ?? 0) + 1}: not valid YAML: ${e.reason}`);
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  const o = (doc ?? {}) as Record<string, any>;
  if (o.kind !== 'KubeProxyConfiguration' || o.apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1') {
    throw new ConfigError(`${file}: want kind KubeProxyConfiguration, apiVersion kubeproxy.config.k8s.io/v1alpha1`);
  }
  // v1alpha1 keeps masquerade settings per mode: nftables mode reads its own section, IPVS mode iptables's.
  const nft = (o.mode === 'ipvs' ? o.iptables : o.nftables) ?? {};
  const ipvs = o.ipvs ?? {};
  return {
    mode: o.mode || undefined,
    hostnameOverride: o.hostnameOverride || undefined,
    clusterCIDR: o.clusterCIDR || undefined,
    detectLocalMode: o.detectLocalMode || undefined,
    bridgeInterface: o.detectLocal?.bridgeInterface || undefined,
    interfaceNamePrefix: o.detectLocal?.interfaceNamePrefix || undefined,
    nodePortAddresses: o.nodePortAddresses ?? undefined,
    masqueradeAll: nft.masqueradeAll ?? undefined,
    masqueradeBit: nft.masqueradeBit ?? undefined,
    minSyncPeriod: (o.mode === 'ipvs' ? undefined : nft.minSyncPeriod) ?? o.minSyncPeriod ?? undefined,
    syncPeriod: (o.mode === 'ipvs' ? undefined : nft.syncPeriod) ?? o.syncPeriod ?? undefined,
    healthzBindAddress: o.healthzBindAddress ?? undefined,
    metricsBindAddress: o.metricsBindAddress ?? undefined,
    kubeconfig: o.clientConnection?.kubeconfig || undefined,
    ipvs: {
      scheduler: ipvs.scheduler || undefined,
      syncPeriod: ipvs.syncPeriod ?? undefined,
      minSyncPeriod: ipvs.minSyncPeriod ?? undefined,
      tcpTimeout: ipvs.tcpTimeout ?? undefined,
      tcpFinTimeout: ipvs.tcpFinTimeout ?? undefined,
      udpTimeout: ipvs.udpTimeout ?? undefined,
      excludeCIDRs: ipvs.excludeCIDRs ?? undefined,
      strictARP: ipvs.strictARP ?? undefined,
    },
  };
}

function validate(s: Settings, nodeIp: string | undefined, where: string): Config {
  const bad = (field: string, why: string) => new ConfigError(`${where}${field}: ${why}`);
  const mode = s.mode ?? 'nftables';
  if (mode !== 'nftables' && mode !== 'ipvs') throw bad('proxy-mode', `${JSON.stringify(mode)} is not supported (svcrouter programs nftables or ipvs)`);

  const host = str(s.hostnameOverride, 'hostname-override', bad) || hostname();
  const name = host.trim().toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw bad('hostname-override', `${JSON.stringify(host)} is not a valid node name`);

  const clusterCIDRs = cidrList(str(s.clusterCIDR, 'cluster-cidr', bad).split(',').filter((x) => x.trim() !== ''), 'cluster-cidr', bad);
  const detect = (str(s.detectLocalMode, 'detect-local-mode', bad) || 'ClusterCIDR') as DetectLocalMode;
  if (!['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'].includes(detect)) {
    throw bad('detect-local-mode', `${JSON.stringify(detect)} is not one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix`);
  }
  const bridge = ifname(str(s.bridgeInterface, 'pod-bridge-interface', bad), 'pod-bridge-interface', bad);
  const prefix = ifname(str(s.interfaceNamePrefix, 'pod-interface-name-prefix', bad), 'pod-interface-name-prefix', bad);
  if (detect === 'BridgeInterface' && bridge === '') throw bad('pod-bridge-interface', 'required with --detect-local-mode=BridgeInterface');
  if (detect === 'InterfaceNamePrefix' && prefix === '') throw bad('pod-interface-name-prefix', 'required with --detect-local-mode=InterfaceNamePrefix');

  const npa = s.nodePortAddresses ?? [];
  if (!Array.isArray(npa)) throw bad('nodeport-addresses', 'must be a list');
  // Unset: the node's primary addresses in nftables mode, every node address in IPVS mode (no CIDR), as in kube-proxy.
  const nodePortAddresses = npa.length === 0 ? (mode === 'ipvs' ? [] : 'primary' as const)
    : npa.length === 1 && npa[0] === 'primary' ? 'primary' as const
    : cidrList(npa, 'nodeport-addresses', bad, '(or the single keyword "primary")');

  const masqueradeAll = s.masqueradeAll ?? false;
  if (typeof masqueradeAll !== 'boolean') throw bad('masquerade-all', 'must be true or false');
  const bit = s.masqueradeBit ?? 14;
  if (typeof bit !== 'number' || !Number.isInteger(bit) || bit < 0 || bit > 31) throw bad('iptables-masquerade-bit', `must be an integer in 0-31, got ${JSON.stringify(s.masqueradeBit)}`);

  // In IPVS mode its own periods win, as kube-proxy's IPVS proxier reads them.
  const ipvsMode = mode === 'ipvs';
  const minSync = ipvsMode && s.ipvs?.minSyncPeriod !== undefined ? duration(s.ipvs.minSyncPeriod, 'ipvs-min-sync-period', bad)
    : duration(s.minSyncPeriod ?? '1s', 'min-sync-period', bad);
  const sync = ipvsMode && s.ipvs?.syncPeriod !== undefined ? duration(s.ipvs.syncPeriod, 'ipvs-sync-period', bad)
    : duration(s.syncPeriod ?? '30s', 'sync-period', bad);
  if (sync <= 0) throw bad(ipvsMode && s.ipvs?.syncPeriod !== undefined ? 'ipvs-sync-period' : 'sync-period', 'must be greater than 0');
  return {
    ...DEFAULT_CONFIG,
    minSyncPeriodMs: minSync,
    syncPeriodMs: sync,
    healthzBindAddress: bindAddress(s.healthzBindAddress, DEFAULT_CONFIG.healthzBindAddress, 'healthz-bind-address', bad),
    metricsBindAddress: bindAddress(s.metricsBindAddress, DEFAULT_CONFIG.metricsBindAddress, 'metrics-bind-address', bad),
    kubeconfig: str(s.kubeconfig, 'kubeconfig', bad),
    hostname: name,
    nodeIPs: nodeIPs(nodeIp, bad),
    clusterCIDRs, detectLocalMode: detect, bridgeInterface: bridge, interfaceNamePrefix: prefix,
    nodePortAddresses, masqueradeAll, masqueradeBit: bit,
    mode, ipvs: ipvsConfig(s.ipvs ?? {}, bad),
  };
}

function ipvsConfig(s: IpvsSettings, bad: Bad): IpvsConfig {
  const scheduler = str(s.scheduler, 'ipvs-scheduler', bad).trim() || 'rr';
  // Any name goes (the kernel loads ip_vs_<name> or refuses it), but it reaches netlink and ipvsadm as text.
  if (!/^[a-z0-9_]{1,15}$/.test(scheduler)) throw bad('ipvs-scheduler', `${JSON.stringify(scheduler)} is not a scheduler name (rr, wrr, lc, wlc, sh, dh, mh, sed, nq, ...)`);
  const seconds = (v: unknown, field: string) => Math.floor(duration(v ?? 0, field, bad) / 1000);
  const exclude = s.excludeCIDRs ?? [];
  if (!Array.isArray(exclude)) throw bad('ipvs-exclude-cidrs', 'must be a list');
  const strictARP = s.strictARP ?? false;
  if (typeof strictARP !== 'boolean') throw bad('ipvs-strict-arp', 'must be true or false');
  return {
    scheduler,
    tcpTimeout: seconds(s.tcpTimeout, 'ipvs-tcp-timeout'),
    tcpFinTimeout: seconds(s.tcpFinTimeout, 'ipvs-tcpfin-timeout'),
    udpTimeout: seconds(s.udpTimeout, 'ipvs-udp-timeout'),
    excludeCIDRs: cidrList(exclude, 'ipvs-exclude-cidrs', bad),
    strictARP,
  };
}

type Bad = (field: string, why: string) => ConfigError;

/** A Go duration as kube-proxy takes it ("1s", "500ms", "1m30s", "0"), in milliseconds. */
function duration(v: unknown, field: string, bad: Bad): number {
  const text = typeof v === 'number' ? `${v}s` : String(v).trim();
  if (text === '0') return 0;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw bad(field, `${JSON.stringify(v)} is not a duration like 1s, 500ms or 1m30s`);
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0));
}

/** "host:port", "[v6]:port", or "" (disabled). */
function bindAddress(v: unknown, dflt: string, field: string, bad: Bad): string {
  if (v === undefined) return dflt;
  const text = str(v, field, bad).trim();
  if (text === '') return '';
  let host: string;
  try {
    host = parseBindAddress(text).host;
  } catch {
    throw bad(field, `${JSON.stringify(text)} is not host:port`);
  }
  if (host !== '' && !parseIP(host)) throw bad(field, `${JSON.stringify(text)} is not host:port with an IP address`);
  return text;
}

function str(v: unknown, field: string, bad: Bad): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  return v;
}

function cidrList(items: unknown[], field: string, bad: Bad, hint = ''): Cidr[] {
  return items.map((x) => {
    const c = parseCIDR(x);
    if (!c) throw bad(field, `${JSON.stringify(x)} is not a CIDR ${hint}`.trim());
    return c;
  });
}

/** A Linux interface name (IFNAMSIZ), in the characters that are safe in an nft rule. */
export const INTERFACE_NAME = /^[A-Za-z0-9_.@-]{1,15}$/;

function ifname(v: string, field: string, bad: Bad): string {
  if (v !== '' && !INTERFACE_NAME.test(v)) throw bad(field, `${JSON.stringify(v)} is not an interface name`);
  return v;
}

function nodeIPs(text: string | undefined, bad: Bad): Record<Family, string[]> {
  const out: Record<Family, string[]> = { ipv4: [], ipv6: [] };
  for (const part of (text ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    const ip = parseIP(part);
    if (!ip) throw bad('node-ip', `${JSON.stringify(part)} is not an IP address`);
    out[ip.family].push(ip.ip);
  }
  return out;
}
