// A batch of requests on the wire: framed into datagrams, each answer paired
// with its request by sequence number. Pure, so it is tested without a kernel.
import { constants } from 'node:os';
import { errnoOf, messageSize, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, parseMessages, writeMessage, type NetlinkMessage } from './message.js';

export interface Request {
  readonly type: number;
  /** Flags beyond REQUEST and ACK (or DUMP), e.g. CREATE | EXCL. */
  readonly flags?: number;
  readonly dump?: boolean;
  readonly payload: Buffer;
}

export interface Reply {
  /** 0, or the errno the kernel refused the request with. */
  readonly errno: number;
  /** What came before the ACK or DONE: the object asked for, or a dump's parts. */
  readonly messages: readonly NetlinkMessage[];
}

/** One datagram of requests and their sequence numbers. */
export interface Datagram {
  readonly bytes: Buffer;
  readonly seqs: readonly number[];
}

/**
 * At most this much per datagram: well under the socket's send buffer (a
 * datagram must fit whole), and the ACKs it brings back fit in the receive
 * buffer (netlink-addon.c), or the kernel would drop some.
 */
export const MAX_DATAGRAM_BYTES = 64 << 10;

/**
 * Frames requests into datagrams; the kernel answers each request in turn, an
 * ACK or an error for each. A dump goes alone: a socket runs one dump at a
 * time (a second one is refused with EBUSY).
 */
export function frameDatagrams(requests: readonly Request[], nextSeq: () => number): Datagram[] {
  const out: Datagram[] = [];
  let group: Request[] = [];
  let size = 0;
  const flush = () => {
    if (group.length === 0) return;
    const bytes = Buffer.alloc(size);
    const seqs: number[] = [];
    let at = 0;
    for (const r of group) {
      const seq = nextSeq();
      seqs.push(seq);
      at = writeMessage(bytes, at, r.type, NLM_F_REQUEST | (r.dump ? NLM_F_DUMP : NLM_F_ACK) | (r.flags ?? 0), seq, r.payload);
    }
    out.push({ bytes, seqs });
    group = [];
    size = 0;
  };
  for (const r of requests) {
    const n = messageSize(r.payload);
    if (r.dump || size + n > MAX_DATAGRAM_BYTES) flush();
    group.push(r);
    size += n;
    if (r.dump) flush();
  }
  flush();
  return out;
}

/**
 * One transaction of a netlink family that batches (nfnetlink): the requests
 * between `begin` and `end` markers, in one datagram, which the kernel
 * commits whole or not at all. The markers are not answered.
 */
export function frameBatch(begin: Request, requests: readonly Request[], end: Request, nextSeq: () => number): Datagram {
  const all = [begin, ...requests, end];
  const bytes = Buffer.alloc(all.reduce((n, r) => n + messageSize(r.payload), 0));
  const seqs: number[] = [];
  let at = 0;
  for (const r of all) {
    const seq = nextSeq();
    const marker = r === begin || r === end;
    if (!marker) seqs.push(seq);
    at = writeMessage(bytes, at, r.type, NLM_F_REQUEST | (marker ? 0 : NLM_F_ACK) | (r.flags ?? 0), seq, r.payload);
  }
  return { bytes, seqs };
}

/** Collects the answers to one datagram's requests from what the socket receives. */
export class ReplyCollector {
  private readonly bySeq = new Map<number, { errno?: number; interrupted: boolean; messages: NetlinkMessage[] }>();
  private open: number;

  constructor(private readonly seqs: readonly number[]) {
    for (const s of seqs) this.bySeq.set(s, { interrupted: false, messages: [] });
    this.open = seqs.length;
  }

  get complete(): boolean {
    return this.open === 0;
  }

  /** Takes one receive's datagrams. Messages for no open request (left over from an exchange given up on) are ignored. */
  add(data: Buffer): void {
    for (const m of parseMessages(data)) {
      const r = this.bySeq.get(m.seq);
      if (!r || r.errno !== undefined) continue;
      if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
        // A dump that changed under us is not a true picture: EINTR, so the caller asks again.
        r.errno = errnoOf(m) || (r.interrupted ? constants.errno.EINTR : 0);
        this.open--;
      } else {
        r.interrupted ||= (m.flags & NLM_F_DUMP_INTR) !== 0;
        r.messages.push(m);
      }
    }
  }

  /** The replies in request order. */
  replies(): Reply[] {
    return this.seqs.map((s) => {
      const r = this.bySeq.get(s)!;
      return { errno: r.errno ?? 0, messages: r.messages };
    });
  }
}
