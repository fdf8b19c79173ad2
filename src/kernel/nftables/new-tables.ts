// svcrouter's tables where there are none yet (a node's first start), loaded
// in steps that no packet sees until the last:
//  1. one nft transaction creates each table inert: its sets, its regular
//     chains and their rules, no base chain. It fails if a table exists (a
//     restart, a restore); then nothing has changed, and the caller replaces
//     the tables atomically instead.
//  2. the elements of hash sets and maps go to the kernel as netlink requests,
//     encoded as they are generated, a transaction per datagram, the next one
//     encoded while the kernel takes the last. nft's parser spends about 5 µs
//     of a full load on each element (a million-element load is seconds).
//  3. one nft transaction adds the elements only nft encodes (intervals) and
//     the base chains: the tables go live whole, at once.
// If step 2 or 3 fails the tables stay inert, and the caller's atomic replace
// deletes them.
import { elementText, splitValue, TABLE, type NftFamily } from '../../backends/nftables/model.js';
import { newTableLines, pushElements, type TableSource } from '../../backends/nftables/render.js';
import { NetlinkError } from '../netlink/errors.js';
import { MAX_DATAGRAM_BYTES, type Request } from '../netlink/exchange.js';
import { messageSize } from '../netlink/message.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { applyScript, type Applied } from '../nft.js';
import { AttributeWriter } from '../netlink/attributes.js';
import { elementEncoder, type ElementEncoder } from './element-encoding.js';
import { batchMarkers, NETLINK_NETFILTER, newElementsRequest } from './messages.js';

/** Bytes of one request's elements: an attribute's length is 16 bits, and a datagram holds several requests. */
const REQUEST_BYTES = 12 << 10;

/**
 * Creates the tables of `sources`, or resolves undefined (having changed
 * nothing) when nft refuses to create them, as it does when one exists.
 */
export async function createTables(sources: readonly TableSource[]): Promise<Applied | undefined> {
  const inert = await applyScript(sources.flatMap((t) => [...newTableLines(t, 'inert')])).catch(() => undefined);
  if (!inert) return undefined;
  const socket = NetlinkSocket.open(NETLINK_NETFILTER);
  try {
    const sender = new ElementSender(socket);
    const leftover: string[] = [];
    for (const t of sources) {
      const encoders = new Map<string, ElementEncoder | undefined>([...t.sets].map(([name, decl]) => [name, elementEncoder(decl)]));
      const byNft = new Map<string, string[]>();
      for (const [set, key, value] of t.elements()) {
        const encoder = encoders.get(set);
        if (encoder && sender.add(t.family, set, encoder, key, value)) {
          const sending = sender.full();
          if (sending) await sending;
        } else {
          let texts = byNft.get(set);
          if (!texts) byNft.set(set, (texts = []));
          texts.push(elementText(key, value));
        }
      }
      for (const [set, texts] of byNft) pushElements(leftover, 'add', `${t.family} ${TABLE}`, set, texts);
    }
    await sender.finish();
    const hooks = await applyScript([...leftover, ...sources.flatMap((t) => [...newTableLines(t, 'hooks')])]);
    return {
      bytes: inert.bytes + sender.bytes + hooks.bytes,
      operations: inert.operations + sender.requests + hooks.operations,
      transactions: inert.transactions + sender.transactions + hooks.transactions,
    };
  } finally {
    await socket.close();
  }
}

/** Gathers elements into requests, one open request per set, and requests into transactions; one transaction in flight at a time. */
class ElementSender {
  bytes = 0;
  requests = 0;
  transactions = 0;
  private readonly open = new Map<string, { family: NftFamily; set: string; elements: AttributeWriter }>();
  /** A request filled by the last add(), to queue. */
  private filled: Request | undefined;
  private ready: Request[] = [];
  private readyBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly markers = batchMarkers();
  private readonly markerBytes = messageSize(this.markers.begin.payload) + messageSize(this.markers.end.payload);

  constructor(private readonly socket: NetlinkSocket) {}

  /** Encodes an element into its set's open request; false (nothing written) when the text is not one nft would take as it is. */
  add(family: NftFamily, set: string, encode: ElementEncoder, key: string, value: string): boolean {
    const id = `${family} ${set}`;
    let r = this.open.get(id);
    if (!r) this.open.set(id, (r = { family, set, elements: new AttributeWriter() }));
    const { data, comment } = splitValue(value);
    try {
      encode(r.elements, key, data, comment);
    } catch {
      return false; // nft reads it, and names what is wrong with it if anything is
    }
    if (r.elements.length >= REQUEST_BYTES) {
      this.open.delete(id);
      this.filled = newElementsRequest(family, TABLE, set, r.elements.bytes());
    }
    return true;
  }

  /** Queues the request the last add() filled; when that fills a transaction, resolves once the one before it is committed. */
  full(): Promise<void> | undefined {
    const r = this.filled;
    this.filled = undefined;
    return r && this.queue(r);
  }

  /** Sends what is left; resolves once every transaction is committed. */
  async finish(): Promise<void> {
    for (const r of this.open.values()) await this.queue(newElementsRequest(r.family, TABLE, r.set, r.elements.bytes()));
    this.open.clear();
    if (this.ready.length > 0) await this.send();
    await this.inFlight;
  }

  private queue(request: Request): Promise<void> | undefined {
    const size = messageSize(request.payload);
    const sending = this.markerBytes + this.readyBytes + size > MAX_DATAGRAM_BYTES ? this.send() : undefined;
    this.ready.push(request);
    this.readyBytes += size;
    return sending;
  }

  private async send(): Promise<void> {
    const requests = this.ready;
    this.bytes += this.readyBytes + this.markerBytes;
    this.requests += requests.length;
    this.transactions++;
    this.ready = [];
    this.readyBytes = 0;
    await this.inFlight;
    this.inFlight = this.socket.transaction(this.markers.begin, requests, this.markers.end).then((replies) => {
      const refused = replies.find((r) => r.errno !== 0);
      if (refused) throw new NetlinkError(`add set elements to the ${TABLE} tables`, refused.errno);
    });
    this.inFlight.catch(() => undefined); // the next send or finish() takes the failure
  }
}
