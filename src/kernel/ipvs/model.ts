// IPVS objects as svcrouter programs them (include/uapi/linux/ip_vs.h).
import type { Family, Protocol } from '../../state/types.js';
import { hostPort } from '../netlink/address.js';

/**
 * What identifies a virtual server: address, protocol and port, or a firewall
 * mark (the packet's whole mark, set by the firewall; any protocol and address).
 */
export type VirtualServerKey =
  | { readonly family: Family; readonly protocol: Protocol; readonly address: string; readonly port: number; readonly fwmark?: undefined }
  | { readonly family: Family; readonly fwmark: number; readonly protocol?: undefined; readonly address?: undefined; readonly port?: undefined };

export interface VirtualServerSettings {
  /** rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos; the kernel loads ip_vs_<name>. */
  readonly scheduler: string;
  /** ServiceFlags bits (HASHED, which the kernel sets on every service, is left out when reading). */
  readonly flags: number;
  /** Persistence timeout in seconds (with ServiceFlags.persistent). */
  readonly timeout: number;
  /** Persistence granularity as a prefix length: 32 (IPv4) or 128 (IPv6) is one client address. */
  readonly netmask: number;
}

export type VirtualServer = VirtualServerKey & VirtualServerSettings;

/** IP_VS_SVC_F_*. The scheduler flags mean what the scheduler says: for sh and mh, sched1 = fallback, sched2 = hash the port too. */
export const ServiceFlags = {
  persistent: 0x1,
  onePacket: 0x4,
  sched1: 0x8,
  sched2: 0x10,
  sched3: 0x20,
} as const;

/** Set by the kernel on every service it holds; not part of what a caller chooses. */
export const SERVICE_FLAG_HASHED = 0x2;

/** IP_VS_CONN_F_* forwarding methods, in their numeric order. */
export const FORWARD_METHODS = ['masq', 'local', 'tunnel', 'droute', 'bypass'] as const;
export type ForwardMethod = (typeof FORWARD_METHODS)[number];

/** What identifies a real server within its virtual server (it has that server's family). */
export interface RealServerKey {
  readonly address: string;
  readonly port: number;
}

export interface RealServer extends RealServerKey {
  /** 0 = drain: no new connections. */
  readonly weight: number;
  readonly forwardMethod: ForwardMethod;
  /** Connection limits; 0 = none. */
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
}

/** A real server as the kernel reports it, with its connection counters. */
export interface ListedRealServer extends RealServer {
  readonly activeConns: number;
  readonly inactiveConns: number;
  /** Persistence templates pointing at it. */
  readonly persistConns: number;
}

/** Seconds; SET_CONFIG leaves out what is not given. */
export interface IpvsTimeouts {
  readonly tcp: number;
  readonly tcpFin: number;
  readonly udp: number;
}

export interface IpvsInfo {
  /** "1.2.1" */
  readonly version: string;
  readonly connectionTableSize: number;
}

export type IpvsOperation =
  | { readonly op: 'add-virtual-server'; readonly vs: VirtualServer }
  | { readonly op: 'update-virtual-server'; readonly vs: VirtualServer }
  | { readonly op: 'delete-virtual-server'; readonly vs: VirtualServerKey }
  | { readonly op: 'add-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServer }
  | { readonly op: 'update-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServer }
  | { readonly op: 'delete-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServerKey };

/** "TCP 10.96.0.1:80", "FWM 257", "FWM 257 IPv6" (as ipvsadm -L). */
export function describeVirtualServer(vs: VirtualServerKey): string {
  if (vs.fwmark !== undefined) return `FWM ${vs.fwmark}${vs.family === 'ipv6' ? ' IPv6' : ''}`;
  return `${vs.protocol.toUpperCase()} ${hostPort(vs.address, vs.port)}`;
}

/** "add real server 10.0.0.5:8080 to TCP 10.96.0.1:80": the start of the error message when it fails. */
export function describeOperation(o: IpvsOperation): string {
  const vs = describeVirtualServer(o.vs);
  switch (o.op) {
    case 'add-virtual-server': return `add virtual server ${vs}`;
    case 'update-virtual-server': return `update virtual server ${vs}`;
    case 'delete-virtual-server': return `delete virtual server ${vs}`;
    case 'add-real-server': return `add real server ${hostPort(o.rs.address, o.rs.port)} to ${vs}`;
    case 'update-real-server': return `update real server ${hostPort(o.rs.address, o.rs.port)} of ${vs}`;
    case 'delete-real-server': return `delete real server ${hostPort(o.rs.address, o.rs.port)} from ${vs}`;
  }
}
