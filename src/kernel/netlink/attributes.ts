// Netlink attributes (linux/netlink.h): a 4-byte header (length including the
// header but not the padding; type) then the payload, padded to 4 bytes.
// Integers are in host byte order unless the attribute says otherwise (ports
// are big-endian).
import { endianness } from 'node:os';

const NLA_F_NESTED = 0x8000;
/** Masks NLA_F_NESTED and NLA_F_NET_BYTEORDER off a type. */
const NLA_TYPE_MASK = 0x3fff;
const HEADER = 4;
const LE = endianness() === 'LE';

export const align4 = (n: number): number => (n + 3) & ~3;

/** Writes attributes (and fixed headers) into one growing buffer: thousands of requests allocate little. */
export class AttributeWriter {
  private buf = Buffer.allocUnsafe(256); // take() zeroes what it hands out
  private off = 0;

  /** Raw bytes, padded: a fixed family header (genlmsghdr, ifaddrmsg) in front of the attributes. */
  raw(bytes: Uint8Array): this {
    const at = this.take(align4(bytes.length));
    this.buf.set(bytes, at);
    return this;
  }

  u8(type: number, v: number): this {
    return this.put(type, 1, (b, at) => b.writeUInt8(v, at));
  }

  u16(type: number, v: number): this {
    return this.put(type, 2, (b, at) => writeU16(b, v, at));
  }

  be16(type: number, v: number): this {
    return this.put(type, 2, (b, at) => b.writeUInt16BE(v, at));
  }

  u32(type: number, v: number): this {
    return this.put(type, 4, (b, at) => writeU32(b, v, at));
  }

  /** A signed or unsigned 32-bit integer in network order. */
  be32(type: number, v: number): this {
    return this.put(type, 4, (b, at) => b.writeUInt32BE(v >>> 0, at));
  }

  /** A NUL-terminated string. */
  string(type: number, s: string): this {
    return this.binary(type, Buffer.from(`${s}\0`));
  }

  binary(type: number, bytes: Uint8Array): this {
    return this.put(type, bytes.length, (b, at) => b.set(bytes, at));
  }

  /** An attribute holding the attributes `fill` writes. */
  nested(type: number, fill: (w: this) => void): this {
    const start = this.off;
    this.attr(type | NLA_F_NESTED, 0);
    fill(this);
    writeU16(this.buf, this.off - start, start);
    return this;
  }

  /** Up to `max` bytes that `write` puts at buf[at...] itself (an addon), returning where it stopped. */
  external(max: number, write: (buf: Buffer, at: number) => number): this {
    this.reserve(max);
    const end = write(this.buf, this.off);
    if (end < this.off || end > this.off + max) throw new RangeError(`wrote ${end - this.off} bytes of at most ${max}`);
    this.off = end;
    return this;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.off;
  }

  /** A copy of what was written. */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.off));
  }

  /** An attribute of `len` payload bytes, which `write` puts at `at` (after a possible reallocation). */
  private put(type: number, len: number, write: (buf: Buffer, at: number) => void): this {
    const at = this.attr(type, len);
    write(this.buf, at);
    return this;
  }

  /** Writes an attribute header for `len` payload bytes; returns where the payload goes. */
  private attr(type: number, len: number): number {
    const at = this.take(HEADER + align4(len));
    writeU16(this.buf, HEADER + len, at);
    writeU16(this.buf, type, at + 2);
    return at + HEADER;
  }

  /** Room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(grown, 0, 0, this.off);
    this.buf = grown;
  }

  /** Claims `n` zeroed bytes; returns their offset. */
  private take(n: number): number {
    this.reserve(n);
    const at = this.off;
    this.buf.fill(0, at, at + n);
    this.off += n;
    return at;
  }
}

/** The attributes in `buf` by type (flags masked off); payloads are views, not copies. */
export function parseAttributes(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + HEADER <= buf.length;) {
    const len = readU16(buf, off);
    if (len < HEADER || off + len > buf.length) throw new Error(`malformed netlink attribute at byte ${off}: length ${len}, ${buf.length - off} bytes left`);
    out.set(readU16(buf, off + 2) & NLA_TYPE_MASK, buf.subarray(off + HEADER, off + len));
    off += align4(len);
  }
  return out;
}

export function readU16(buf: Buffer, at = 0): number {
  return LE ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
}

export function readU32(buf: Buffer, at = 0): number {
  return LE ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
}

export function readI32(buf: Buffer, at = 0): number {
  return LE ? buf.readInt32LE(at) : buf.readInt32BE(at);
}

export function writeU16(buf: Buffer, v: number, at: number): void {
  if (LE) buf.writeUInt16LE(v, at);
  else buf.writeUInt16BE(v, at);
}

export function writeU32(buf: Buffer, v: number, at: number): void {
  if (LE) buf.writeUInt32LE(v >>> 0, at);
  else buf.writeUInt32BE(v >>> 0, at);
}

/** A NUL-terminated string attribute. */
export function readString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul < 0 ? buf.length : nul);
}
