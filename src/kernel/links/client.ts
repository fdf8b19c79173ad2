// The dummy link IPVS needs (kube-proxy's kube-ipvs0) and the service
// addresses on it, over one rtnetlink socket. Address changes are batched
// like IPVS changes: one entry per address, undefined when done.
import { constants } from 'node:os';
import { familyOfAddress } from '../netlink/address.js';
import { NetlinkError } from '../netlink/errors.js';
import type { Request } from '../netlink/exchange.js';
import { NETLINK_ROUTE, NetlinkSocket } from '../netlink/socket.js';
import { addressRequest, decodeAddress, decodeLinkIndex, deleteLinkRequest, getLinkRequest, listAddressesRequest, newDummyLinkRequest, type LinkAddress } from './messages.js';

export type { LinkAddress } from './messages.js';

const { EADDRNOTAVAIL, EEXIST, ENODEV } = constants.errno;

export class LinkClient {
  private constructor(private readonly socket: NetlinkSocket) {}

  /** Connects to this process's network namespace, or to the one at path `netns`. */
  static open(options: { netns?: string } = {}): LinkClient {
    return new LinkClient(NetlinkSocket.open(NETLINK_ROUTE, options.netns));
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  /** Creates dummy link `name` unless a link of that name exists. It is left down: its addresses are local all the same. */
  async ensureDummyLink(name: string): Promise<void> {
    const [reply] = await this.socket.exchange([newDummyLinkRequest(name)]);
    if (reply!.errno && reply!.errno !== EEXIST) throw new NetlinkError(`create dummy link ${name}`, reply!.errno);
  }

  /** The ifindex of link `name`, or undefined if there is none. */
  async linkIndex(name: string): Promise<number | undefined> {
    const [reply] = await this.socket.exchange([getLinkRequest(name)]);
    if (reply!.errno === ENODEV) return undefined;
    if (reply!.errno) throw new NetlinkError(`find link ${name}`, reply!.errno);
    return decodeLinkIndex(reply!.messages[0]!);
  }

  /** Deletes link `name` with its addresses; a missing link is already done. */
  async deleteLink(name: string): Promise<void> {
    const [reply] = await this.socket.exchange([deleteLinkRequest(name)]);
    if (reply!.errno && reply!.errno !== ENODEV) throw new NetlinkError(`delete link ${name}`, reply!.errno);
  }

  /** IPv4 and IPv6 addresses of all links, or of link `name` (none if it does not exist). */
  async listAddresses(name?: string): Promise<LinkAddress[]> {
    const ifindex = name === undefined ? undefined : await this.linkIndex(name);
    if (name !== undefined && ifindex === undefined) return [];
    const [reply] = await this.socket.exchange([listAddressesRequest()]);
    if (reply!.errno) throw new NetlinkError('list addresses', reply!.errno);
    return reply!.messages
      .map(decodeAddress)
      .filter((a): a is LinkAddress => a !== undefined && (ifindex === undefined || a.ifindex === ifindex));
  }

  /** Adds each address as a /32 or /128 to link `name`; one already there counts as added. */
  addAddresses(name: string, addresses: readonly string[]): Promise<(NetlinkError | undefined)[]> {
    return this.changeAddresses('add', name, addresses, EEXIST);
  }

  /** Deletes each address from link `name`; one not there (or no such link) counts as deleted. */
  deleteAddresses(name: string, addresses: readonly string[]): Promise<(NetlinkError | undefined)[]> {
    return this.changeAddresses('delete', name, addresses, EADDRNOTAVAIL);
  }

  private async changeAddresses(op: 'add' | 'delete', name: string, addresses: readonly string[], done: number): Promise<(NetlinkError | undefined)[]> {
    const describe = (a: string, family: string) => `${op} address ${a}/${family === 'ipv4' ? 32 : 128} ${op === 'add' ? 'to' : 'from'} ${name}`;
    if (addresses.length === 0) return [];
    const ifindex = await this.linkIndex(name);
    if (ifindex === undefined && op === 'delete') return addresses.map(() => undefined);
    if (ifindex === undefined) throw new NetlinkError(`add addresses to link ${name}`, ENODEV);
    const families = addresses.map(familyOfAddress);
    const requests: Request[] = addresses.map((a, i) => addressRequest(op, ifindex, families[i]!, a));
    const replies = await this.socket.exchange(requests);
    return replies.map((r, i) => (r.errno && r.errno !== done ? new NetlinkError(describe(addresses[i]!, families[i]!), r.errno) : undefined));
  }
}
