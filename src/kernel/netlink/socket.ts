// A netlink socket (netlink-addon.c) that runs one exchange at a time: a
// batch of requests out, every answer back, paired by sequence number.
import { NetlinkError } from './errors.js';
import { loadAddon } from '../addon.js';
import { frameBatch, frameDatagrams, ReplyCollector, type Datagram, type Reply, type Request } from './exchange.js';

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

interface Addon {
  open(protocol: number, netns?: string): object;
  send(sock: object, bytes: Buffer, done: (err: AddonError | null) => void): void;
  /** Throws an AddonError. */
  sendNow(sock: object, bytes: Buffer): void;
  receive(sock: object, done: (err: AddonError | null, data?: Buffer) => void): void;
  /** What is queued, or undefined if nothing is; throws an AddonError. */
  receiveNow(sock: object): Buffer | undefined;
  close(sock: object): void;
}

/**
 * `inline`: the kernel's work for these requests is small (a generation
 * read, one sync's element changes), so they are sent from the event loop,
 * sparing the thread pool's hand-offs (netlink-addon.c).
 */
export interface ExchangeOptions {
  readonly inline?: boolean;
}

type AddonError = Error & { errno?: number };

let addon: Addon | undefined;

function netlinkAddon(): Addon {
  addon ??= loadAddon<Addon>('netlink');
  return addon;
}

function failure(what: string, e: AddonError): Error {
  return e.errno ? new NetlinkError(what, e.errno) : e;
}

export class NetlinkSocket {
  private seq = 0;
  /** The exchange in progress; the next one waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly addon: Addon, private readonly handle: object) {}

  /** Opens a socket for `protocol`, in the network namespace at path `netns` (e.g. /run/netns/x) or in this thread's. */
  static open(protocol: number, netns?: string): NetlinkSocket {
    let a: Addon;
    try {
      a = netlinkAddon();
    } catch (e) {
      throw new Error(`cannot load the netlink addon (a C compiler is needed: npm run build): ${(e as Error).message}`);
    }
    try {
      return new NetlinkSocket(a, a.open(protocol, netns));
    } catch (e) {
      throw failure(`open a netlink socket${netns ? ` in ${netns}` : ''}`, e as AddonError);
    }
  }

  /**
   * Sends the requests (as few datagrams as fit) and resolves with one reply
   * per request, in order. A request the kernel refuses has its errno in its
   * reply; only a failing socket rejects.
   */
  exchange(requests: readonly Request[], options: ExchangeOptions = {}): Promise<Reply[]> {
    const run = this.queue.then(() => this.run(requests, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends one transaction (frameBatch) and resolves with one reply per
   * request, in order; when the kernel refused any, it committed none.
   */
  transaction(begin: Request, requests: readonly Request[], end: Request, options: ExchangeOptions = {}): Promise<Reply[]> {
    const run = this.queue.then(() => this.roundTrip(frameBatch(begin, requests, end, () => this.nextSeq()), options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the socket once the exchanges queued so far are done. */
  async close(): Promise<void> {
    await this.queue;
    this.addon.close(this.handle);
  }

  private async run(requests: readonly Request[], options: ExchangeOptions): Promise<Reply[]> {
    const replies: Reply[] = [];
    for (const d of frameDatagrams(requests, () => this.nextSeq())) replies.push(...await this.roundTrip(d, options));
    return replies;
  }

  /** Replies the kernel has queued by the time the send returns are taken at once; only for more is the pool waited on. */
  private async roundTrip(d: Datagram, { inline = false }: ExchangeOptions): Promise<Reply[]> {
    if (inline) this.sendNow(d.bytes);
    else await this.send(d.bytes);
    const collector = new ReplyCollector(d.seqs);
    while (!collector.complete) collector.add(this.receiveNow() ?? await this.receive());
    return collector.replies();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  private send(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.addon.send(this.handle, bytes, (err) => (err ? reject(failure('send netlink requests', err)) : resolve()));
    });
  }

  private sendNow(bytes: Buffer): void {
    try {
      this.addon.sendNow(this.handle, bytes);
    } catch (e) {
      throw failure('send netlink requests', e as AddonError);
    }
  }

  private receiveNow(): Buffer | undefined {
    try {
      return this.addon.receiveNow(this.handle);
    } catch (e) {
      throw failure('receive netlink replies', e as AddonError);
    }
  }

  private receive(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.addon.receive(this.handle, (err, data) => (err ? reject(failure('receive netlink replies', err)) : resolve(data!)));
    });
  }
}
