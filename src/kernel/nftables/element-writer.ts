// Set elements written to nf_tables as netlink requests, without nft's
// parser (which spends several µs on each element it reads): a sync's
// element changes as one transaction, or a new table's elements streamed a
// transaction per datagram. One netlink socket serves the agent's lifetime.
// Elements of a set the encoder does not know, or text it does not take,
// are the caller's to send through nft.
import type { ElementChange } from '../../backends/nftables/plan.js';
import { splitValue, TABLE, type NftFamily } from '../../backends/nftables/model.js';
import { AttributeWriter } from '../netlink/attributes.js';
import { NetlinkError } from '../netlink/errors.js';
import { MAX_DATAGRAM_BYTES, type Request } from '../netlink/exchange.js';
import { messageSize } from '../netlink/message.js';
import { NetlinkSocket } from '../netlink/socket.js';
import type { Applied } from '../nft.js';
import { encoderFor, type ElementEncoder } from './element-encoding.js';
import { batchMarkers, deleteElementsRequest, NETLINK_NETFILTER, newElementsRequest } from './messages.js';

/** Bytes of one request's elements: an attribute's length is 16 bits, and a datagram holds several requests. */
const REQUEST_BYTES = 12 << 10;

const markers = batchMarkers();
const MARKER_BYTES = messageSize(markers.begin.payload) + messageSize(markers.end.payload);

let socket: NetlinkSocket | undefined;

function netfilterSocket(): NetlinkSocket {
  socket ??= NetlinkSocket.open(NETLINK_NETFILTER);
  return socket;
}

/**
 * One transaction; rejects, the kernel having committed none of it, if it
 * refused any request. `inline`: small enough to send from the event loop
 * (one sync's changes), not a new table's datagram, encoded while the last commits.
 */
async function commit(requests: readonly Request[], inline: boolean): Promise<void> {
  const replies = await netfilterSocket().transaction(markers.begin, requests, markers.end, { inline });
  const refused = replies.find((r) => r.errno !== 0);
  if (refused) throw new NetlinkError(`change set elements of the ${TABLE} tables`, refused.errno);
}

/**
 * Commits a plan's element changes (deletions first, as given) as one
 * transaction, or resolves undefined having sent nothing when they cannot
 * go as one datagram: a set or an element only nft encodes, or too many.
 */
export async function writeElementChanges(changes: readonly ElementChange[]): Promise<Applied | undefined> {
  const requests: Request[] = [];
  let bytes = MARKER_BYTES;
  for (const c of changes) {
    const encoder = encoderFor(c.decl);
    if (!encoder) return undefined;
    const build = c.verb === 'add' ? newElementsRequest : deleteElementsRequest;
    let w = new AttributeWriter();
    const flush = () => {
      const r = build(c.family, TABLE, c.set, w.bytes());
      requests.push(r);
      bytes += messageSize(r.payload);
      w = new AttributeWriter();
    };
    for (const [key, value] of c.elements) {
      if (!encode(encoder, w, c.verb, key, value)) return undefined;
      if (w.length >= REQUEST_BYTES) flush();
      if (bytes > MAX_DATAGRAM_BYTES) return undefined;
    }
    if (w.length > 0) flush();
  }
  if (bytes > MAX_DATAGRAM_BYTES) return undefined;
  if (requests.length === 0) return { bytes: 0, operations: 0, transactions: 0 };
  await commit(requests, true);
  return { bytes, operations: requests.length, transactions: 1 };
}

/** Writes one element (or, to delete it, its key); false, having written nothing, if the encoder does not take it. */
function encode(encoder: ElementEncoder, w: AttributeWriter, verb: 'add' | 'delete', key: string, value: string): boolean {
  try {
    if (verb === 'delete') encoder.key(w, key);
    else {
      const { data, comment } = splitValue(value);
      encoder.element(w, key, data, comment);
    }
    return true;
  } catch {
    return false; // nft reads it, and names what is wrong with it if anything is
  }
}

/**
 * A new table's elements, added as they come: each set's gathered into
 * requests, requests into one transaction per datagram, the next one
 * encoded while the kernel commits the last.
 */
export class ElementStream {
  bytes = 0;
  requests = 0;
  transactions = 0;
  /** Each family's sets' open requests: looked up per element, so by two maps, not by a key string made each time. */
  private readonly open = new Map<NftFamily, Map<string, { encoder: ElementEncoder; elements: AttributeWriter }>>();
  /** A request filled by the last add(), to queue. */
  private filled: Request | undefined;
  private ready: Request[] = [];
  private readyBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();

  /** Encodes an element into its set's open request; false (nothing written) when nft must write it. */
  add(family: NftFamily, set: string, decl: string, key: string, value: string): boolean {
    let sets = this.open.get(family);
    if (!sets) this.open.set(family, (sets = new Map()));
    let r = sets.get(set);
    if (!r) {
      const encoder = encoderFor(decl);
      if (!encoder) return false;
      sets.set(set, (r = { encoder, elements: new AttributeWriter() }));
    }
    if (!encode(r.encoder, r.elements, 'add', key, value)) return false;
    if (r.elements.length >= REQUEST_BYTES) {
      sets.delete(set);
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
    for (const [family, sets] of this.open) for (const [set, r] of sets) await this.queue(newElementsRequest(family, TABLE, set, r.elements.bytes()));
    this.open.clear();
    if (this.ready.length > 0) await this.send();
    await this.inFlight;
  }

  private queue(request: Request): Promise<void> | undefined {
    const size = messageSize(request.payload);
    const sending = MARKER_BYTES + this.readyBytes + size > MAX_DATAGRAM_BYTES ? this.send() : undefined;
    this.ready.push(request);
    this.readyBytes += size;
    return sending;
  }

  private async send(): Promise<void> {
    const requests = this.ready;
    this.bytes += this.readyBytes + MARKER_BYTES;
    this.requests += requests.length;
    this.transactions++;
    this.ready = [];
    this.readyBytes = 0;
    await this.inFlight;
    this.inFlight = commit(requests, false);
    this.inFlight.catch(() => undefined); // the next send or finish() takes the failure
  }
}
