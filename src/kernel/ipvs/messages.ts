// IPVS generic netlink messages (include/uapi/linux/ip_vs.h): requests built
// from the model, replies decoded into it. Pure: no socket here.
import type { Family, Protocol } from '../../state/types.js';
import { addressBytes, addressText, afOf, familyOf } from '../netlink/address.js';
import { AttributeWriter, parseAttributes, readU16, readU32, readString, writeU32 } from '../netlink/attributes.js';
import type { Request } from '../netlink/exchange.js';
import { genlAttributes, genlWriter } from '../netlink/generic.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { FORWARD_METHODS, SERVICE_FLAG_HASHED, type IpvsInfo, type IpvsOperation, type IpvsTimeouts, type ListedRealServer, type RealServer, type RealServerKey, type VirtualServer, type VirtualServerKey } from './model.js';

export const IPVS_FAMILY_NAME = 'IPVS';
const IPVS_GENL_VERSION = 1;

const CMD = { newService: 1, setService: 2, delService: 3, getService: 4, newDest: 5, setDest: 6, delDest: 7, getDest: 8, setConfig: 12, getConfig: 13, getInfo: 15, flush: 17 } as const;
const CMD_ATTR = { service: 1, dest: 2, timeoutTcp: 4, timeoutTcpFin: 5, timeoutUdp: 6 } as const;
const SVC_ATTR = { af: 1, protocol: 2, addr: 3, port: 4, fwmark: 5, schedName: 6, flags: 7, timeout: 8, netmask: 9 } as const;
const DEST_ATTR = { addr: 1, port: 2, fwdMethod: 3, weight: 4, uThresh: 5, lThresh: 6, activeConns: 7, inactConns: 8, persistConns: 9, addrFamily: 11 } as const;
const INFO_ATTR = { version: 1, connTabSize: 2 } as const;
const IP_VS_CONN_F_FWD_MASK = 0x7;

const PROTOCOL_NUMBERS: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTOCOLS = new Map(Object.entries(PROTOCOL_NUMBERS).map(([name, n]) => [n, name as Protocol]));

type Writer = AttributeWriter;

/** The service nest: the key, and for NEW/SET the rest (the kernel wants all of it). */
function writeService(w: Writer, vs: VirtualServerKey, full?: VirtualServer): void {
  w.nested(CMD_ATTR.service, (n) => {
    n.u16(SVC_ATTR.af, afOf(vs.family));
    if (vs.fwmark !== undefined) n.u32(SVC_ATTR.fwmark, vs.fwmark);
    else n.u16(SVC_ATTR.protocol, PROTOCOL_NUMBERS[vs.protocol]).binary(SVC_ATTR.addr, addressBytes(vs.family, vs.address)).be16(SVC_ATTR.port, vs.port);
    if (!full) return;
    const flags = Buffer.alloc(8);
    writeU32(flags, full.flags, 0);
    writeU32(flags, 0xffffffff, 4); // mask: all bits, so the result is exactly `flags`
    n.string(SVC_ATTR.schedName, full.scheduler)
      .binary(SVC_ATTR.flags, flags)
      .u32(SVC_ATTR.timeout, full.timeout);
    // IPv4: the mask itself, stored by the kernel as a __be32; IPv6: the prefix length.
    if (full.family === 'ipv4') n.binary(SVC_ATTR.netmask, maskBytes(full.netmask));
    else n.u32(SVC_ATTR.netmask, full.netmask);
  });
}

function writeDest(w: Writer, family: Family, rs: RealServerKey, full?: RealServer): void {
  w.nested(CMD_ATTR.dest, (n) => {
    n.binary(DEST_ATTR.addr, addressBytes(family, rs.address)).be16(DEST_ATTR.port, rs.port);
    if (!full) return;
    n.u32(DEST_ATTR.fwdMethod, FORWARD_METHODS.indexOf(full.forwardMethod))
      .u32(DEST_ATTR.weight, full.weight)
      .u32(DEST_ATTR.uThresh, full.upperThreshold)
      .u32(DEST_ATTR.lThresh, full.lowerThreshold);
  });
}

function request(familyId: number, cmd: number, fill?: (w: Writer) => void, dump = false): Request {
  const w = genlWriter(cmd, IPVS_GENL_VERSION);
  fill?.(w);
  return { type: familyId, dump, payload: w.bytes() };
}

export function operationRequest(familyId: number, o: IpvsOperation): Request {
  switch (o.op) {
    case 'add-virtual-server': return request(familyId, CMD.newService, (w) => writeService(w, o.vs, o.vs));
    case 'update-virtual-server': return request(familyId, CMD.setService, (w) => writeService(w, o.vs, o.vs));
    case 'delete-virtual-server': return request(familyId, CMD.delService, (w) => writeService(w, o.vs));
    case 'add-real-server': return request(familyId, CMD.newDest, (w) => { writeService(w, o.vs); writeDest(w, o.vs.family, o.rs, o.rs); });
    case 'update-real-server': return request(familyId, CMD.setDest, (w) => { writeService(w, o.vs); writeDest(w, o.vs.family, o.rs, o.rs); });
    case 'delete-real-server': return request(familyId, CMD.delDest, (w) => { writeService(w, o.vs); writeDest(w, o.vs.family, o.rs); });
  }
}

export const listVirtualServersRequest = (familyId: number): Request => request(familyId, CMD.getService, undefined, true);

export const listRealServersRequest = (familyId: number, vs: VirtualServerKey): Request =>
  request(familyId, CMD.getDest, (w) => writeService(w, vs), true);

export const setTimeoutsRequest = (familyId: number, t: Partial<IpvsTimeouts>): Request =>
  request(familyId, CMD.setConfig, (w) => {
    if (t.tcp !== undefined) w.u32(CMD_ATTR.timeoutTcp, t.tcp);
    if (t.tcpFin !== undefined) w.u32(CMD_ATTR.timeoutTcpFin, t.tcpFin);
    if (t.udp !== undefined) w.u32(CMD_ATTR.timeoutUdp, t.udp);
  });

export const getTimeoutsRequest = (familyId: number): Request => request(familyId, CMD.getConfig);
export const getInfoRequest = (familyId: number): Request => request(familyId, CMD.getInfo);
export const flushRequest = (familyId: number): Request => request(familyId, CMD.flush);

/** A service from a GET_SERVICE dump; undefined for one of a protocol svcrouter does not use. */
export function decodeVirtualServer(msg: NetlinkMessage): VirtualServer | undefined {
  const svc = nest(msg, CMD_ATTR.service);
  const family = familyOf(readU16(need(svc, SVC_ATTR.af, 'service AF')));
  if (!family) return undefined;
  const netmask = need(svc, SVC_ATTR.netmask, 'service netmask');
  const settings = {
    scheduler: readString(need(svc, SVC_ATTR.schedName, 'service scheduler')),
    flags: readU32(need(svc, SVC_ATTR.flags, 'service flags')) & ~SERVICE_FLAG_HASHED,
    timeout: readU32(need(svc, SVC_ATTR.timeout, 'service timeout')),
    netmask: family === 'ipv4' ? prefixLength(netmask) : readU32(netmask),
  };
  const fwmark = svc.get(SVC_ATTR.fwmark);
  if (fwmark) return { family, fwmark: readU32(fwmark), ...settings };
  const protocol = svc.has(SVC_ATTR.protocol) ? PROTOCOLS.get(readU16(svc.get(SVC_ATTR.protocol)!)) : undefined;
  if (!protocol) return undefined;
  return {
    family,
    protocol,
    address: addressText(family, need(svc, SVC_ATTR.addr, 'service address')),
    port: need(svc, SVC_ATTR.port, 'service port').readUInt16BE(0),
    ...settings,
  };
}

/** A real server from a GET_DEST dump of a service of `family`. */
export function decodeRealServer(msg: NetlinkMessage, family: Family): ListedRealServer {
  const d = nest(msg, CMD_ATTR.dest);
  const u32 = (type: number, what: string) => readU32(need(d, type, what));
  const af = d.get(DEST_ATTR.addrFamily);
  const forwardMethod = FORWARD_METHODS[u32(DEST_ATTR.fwdMethod, 'forwarding method') & IP_VS_CONN_F_FWD_MASK];
  if (!forwardMethod) throw new Error(`IPVS real server with unknown forwarding method ${u32(DEST_ATTR.fwdMethod, '')}`);
  return {
    address: addressText((af && familyOf(readU16(af))) || family, need(d, DEST_ATTR.addr, 'real server address')),
    port: need(d, DEST_ATTR.port, 'real server port').readUInt16BE(0),
    weight: u32(DEST_ATTR.weight, 'weight'),
    forwardMethod,
    upperThreshold: u32(DEST_ATTR.uThresh, 'upper threshold'),
    lowerThreshold: u32(DEST_ATTR.lThresh, 'lower threshold'),
    activeConns: u32(DEST_ATTR.activeConns, 'active connections'),
    inactiveConns: u32(DEST_ATTR.inactConns, 'inactive connections'),
    persistConns: u32(DEST_ATTR.persistConns, 'persistent connections'),
  };
}

export function decodeTimeouts(msg: NetlinkMessage): IpvsTimeouts {
  const a = genlAttributes(msg);
  return {
    tcp: readU32(need(a, CMD_ATTR.timeoutTcp, 'TCP timeout')),
    tcpFin: readU32(need(a, CMD_ATTR.timeoutTcpFin, 'TCP FIN timeout')),
    udp: readU32(need(a, CMD_ATTR.timeoutUdp, 'UDP timeout')),
  };
}

export function decodeInfo(msg: NetlinkMessage): IpvsInfo {
  const a = genlAttributes(msg);
  const v = readU32(need(a, INFO_ATTR.version, 'IPVS version'));
  return {
    version: `${v >> 16}.${(v >> 8) & 0xff}.${v & 0xff}`,
    connectionTableSize: readU32(need(a, INFO_ATTR.connTabSize, 'connection table size')),
  };
}

function nest(msg: NetlinkMessage, type: number): Map<number, Buffer> {
  const n = genlAttributes(msg).get(type);
  if (!n) throw new Error(`IPVS reply without its ${type === CMD_ATTR.service ? 'service' : 'destination'} attribute`);
  return parseAttributes(n);
}

function need(attrs: Map<number, Buffer>, type: number, what: string): Buffer {
  const v = attrs.get(type);
  if (!v) throw new Error(`IPVS reply without ${what}`);
  return v;
}

function maskBytes(prefix: number): Uint8Array {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return Uint8Array.of(mask >>> 24, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff);
}

function prefixLength(mask: Buffer): number {
  let n = 0;
  for (let bits = mask.readUInt32BE(0); bits & 0x80000000; bits = (bits << 1) >>> 0) n++;
  return n;
}
