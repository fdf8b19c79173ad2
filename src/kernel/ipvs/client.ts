// The IPVS client: virtual and real servers, timeouts and version, over one
// generic netlink socket. Changes go in batches (a datagram holds hundreds)
// with an ACK each, so 100,000 changes take a few hundred round trips, and
// every failure is reported against its own operation.
import { NetlinkError } from '../netlink/errors.js';
import type { Reply, Request } from '../netlink/exchange.js';
import { resolveFamily } from '../netlink/generic.js';
import { NETLINK_GENERIC, NetlinkSocket } from '../netlink/socket.js';
import { decodeInfo, decodeRealServer, decodeTimeouts, decodeVirtualServer, flushRequest, getInfoRequest, getTimeoutsRequest, IPVS_FAMILY_NAME, listRealServersRequest, listVirtualServersRequest, operationRequest, setTimeoutsRequest } from './messages.js';
import { describeOperation, describeVirtualServer, type IpvsInfo, type IpvsOperation, type IpvsTimeouts, type ListedRealServer, type RealServer, type RealServerKey, type VirtualServer, type VirtualServerKey } from './model.js';

export class IpvsClient {
  private constructor(private readonly socket: NetlinkSocket, private readonly familyId: number) {}

  /** Connects to IPVS in this process's network namespace, or in the one at path `netns`; loads ip_vs if needed. */
  static async open(options: { netns?: string } = {}): Promise<IpvsClient> {
    const socket = NetlinkSocket.open(NETLINK_GENERIC, options.netns);
    try {
      return new IpvsClient(socket, await resolveFamily(socket, IPVS_FAMILY_NAME, 'ip_vs'));
    } catch (e) {
      await socket.close();
      throw e;
    }
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  /**
   * Applies the operations in order, in as few datagrams as they fit. Resolves
   * with one entry per operation: undefined when done, else its error (the
   * others still run). Rejects only when the socket fails; some of the
   * operations may have been applied then, so read the kernel's state again.
   */
  async apply(operations: readonly IpvsOperation[]): Promise<(NetlinkError | undefined)[]> {
    const replies = await this.socket.exchange(operations.map((o) => operationRequest(this.familyId, o)));
    return replies.map((r, i) => (r.errno ? new NetlinkError(describeOperation(operations[i]!), r.errno) : undefined));
  }

  addVirtualServer(vs: VirtualServer): Promise<void> {
    return this.applyOne({ op: 'add-virtual-server', vs });
  }

  /** Changes scheduler, flags, timeout and netmask in place (connections and real servers stay). */
  updateVirtualServer(vs: VirtualServer): Promise<void> {
    return this.applyOne({ op: 'update-virtual-server', vs });
  }

  /** Deletes the virtual server and its real servers. */
  deleteVirtualServer(vs: VirtualServerKey): Promise<void> {
    return this.applyOne({ op: 'delete-virtual-server', vs });
  }

  addRealServer(vs: VirtualServerKey, rs: RealServer): Promise<void> {
    return this.applyOne({ op: 'add-real-server', vs, rs });
  }

  updateRealServer(vs: VirtualServerKey, rs: RealServer): Promise<void> {
    return this.applyOne({ op: 'update-real-server', vs, rs });
  }

  deleteRealServer(vs: VirtualServerKey, rs: RealServerKey): Promise<void> {
    return this.applyOne({ op: 'delete-real-server', vs, rs });
  }

  /** Every TCP/UDP/SCTP and firewall-mark virtual server of the namespace. */
  async listVirtualServers(): Promise<VirtualServer[]> {
    const reply = await this.ask('list virtual servers', listVirtualServersRequest(this.familyId));
    return reply.messages.map(decodeVirtualServer).filter((vs): vs is VirtualServer => vs !== undefined);
  }

  /** The real servers of `vs`. The kernel answers a missing virtual server with an empty list, not an error. */
  async listRealServers(vs: VirtualServerKey): Promise<ListedRealServer[]> {
    const reply = await this.ask(`list real servers of ${describeVirtualServer(vs)}`, listRealServersRequest(this.familyId, vs));
    return reply.messages.map((m) => decodeRealServer(m, vs.family));
  }

  /** Sets the timeouts given; the others keep their value. */
  async setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<void> {
    await this.ask('set IPVS timeouts', setTimeoutsRequest(this.familyId, timeouts));
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    return decodeTimeouts(only(await this.ask('get IPVS timeouts', getTimeoutsRequest(this.familyId))));
  }

  async getInfo(): Promise<IpvsInfo> {
    return decodeInfo(only(await this.ask('get IPVS version', getInfoRequest(this.familyId))));
  }

  /** Deletes every virtual server of the namespace. */
  async flush(): Promise<void> {
    await this.ask('flush IPVS', flushRequest(this.familyId));
  }

  private async applyOne(o: IpvsOperation): Promise<void> {
    const [err] = await this.apply([o]);
    if (err) throw err;
  }

  private async ask(what: string, req: Request): Promise<Reply> {
    const [reply] = await this.socket.exchange([req]);
    if (reply!.errno) throw new NetlinkError(what, reply!.errno);
    return reply!;
  }
}

function only(reply: Reply): Reply['messages'][number] {
  const m = reply.messages[0];
  if (!m) throw new Error('IPVS sent no reply message');
  return m;
}
