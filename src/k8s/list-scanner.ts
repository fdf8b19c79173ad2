// Reads a Kubernetes list response as its bytes arrive: every element of the
// top-level "items" array is handed on as soon as it is complete, parsed on
// its own, with the pairs whose keys svcrouter never reads cut out of its JSON
// before parsing (managedFields, last-applied-configuration, Pod targetRefs).
// So a page is never one large string (which V8 keeps in old space until a
// full collection), and the bulk of a real object is never turned into
// objects at all. The scan knows JSON's structure only as far as it needs:
// strings and their escapes, nesting, and which strings are object keys.

export class ListFormatError extends Error {}

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
/** The longest root key the scan looks for ("metadata"; "items"). */
const ROOT_KEY_MAX = 8;
const NONE: readonly Buffer[] = [];
const OPEN_OBJ = 0x7b, CLOSE_OBJ = 0x7d, OPEN_ARR = 0x5b, CLOSE_ARR = 0x5d;

/** One open object or array. */
interface Level {
  readonly object: boolean;
  /** In an object: the next string is a key. */
  expectKey: boolean;
  /** Some pair of this object was kept (is in the output). */
  kept: boolean;
  /** Where its last comma went in the output. */
  commaAt: number;
  /** Its first pair was cut: the comma after it must go too. */
  dropComma: boolean;
}

/** The value of a pair being cut: the depth of its object, and what kind of value it is (unknown until seen). */
interface Cut {
  readonly depth: number;
  kind: 'unknown' | 'scalar' | 'container';
}

export class ListScanner {
  private readonly levels: Level[] = [];
  private inString = false;
  private escape = false;
  /**
   * The key being read, when the current string is a key: its bytes go to one
   * reused buffer, never to a string or array of its own. Every pair of every
   * item has a key, and building each one (an array grown byte by byte, then
   * a string) was over 40% of what the agent allocated while listing: about
   * 440 MB at 10k services, each megabyte a share of a young-generation
   * collection. Only a key that may be dropped, or a root key, is compared.
   */
  private keying = false;
  private keyLen = 0;
  private readonly keyBytes: Buffer;
  private keyAt = 0;
  /** The keys to drop, as bytes, by length. */
  private readonly dropByLength = new Map<number, Buffer[]>();
  private rootKey = '';
  /** What is being copied out: an item, the list's metadata, or nothing. */
  private capture: 'item' | 'metadata' | undefined;
  private captureDepth = 0;
  private out = Buffer.alloc(1 << 16);
  private outLen = 0;
  /** Start (in the current chunk) of the bytes being copied; -1 while nothing is copied. */
  private runStart = -1;
  private cut: Cut | undefined;
  private metadata: Record<string, unknown> = {};

  constructor(
    private readonly onItem: (item: Record<string, unknown>) => void,
    drop: ReadonlySet<string>,
  ) {
    let longest = ROOT_KEY_MAX;
    for (const k of drop) {
      const bytes = Buffer.from(k, 'latin1');
      const same = this.dropByLength.get(bytes.length) ?? [];
      this.dropByLength.set(bytes.length, [...same, bytes]);
      longest = Math.max(longest, bytes.length);
    }
    // A key longer than this is neither dropped nor a root key that matters: its length is all that is kept.
    this.keyBytes = Buffer.alloc(longest);
  }

  push(chunk: Buffer): void {
    this.runStart = this.capture && !this.cut ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) this.stringEnd(chunk, i);
        else if (this.keying) {
          if (this.keyLen < this.keyBytes.length) this.keyBytes[this.keyLen] = c;
          this.keyLen++;
        }
        continue;
      }
      if (this.cut && this.cut.kind !== 'container') {
        if (this.cut.kind === 'unknown') {
          if (c === COLON || isSpace(c)) continue;
          this.cut.kind = c === OPEN_OBJ || c === OPEN_ARR ? 'container' : 'scalar';
        }
        if (this.cut.kind === 'scalar') {
          if (c === QUOTE) {
            this.inString = true;
            continue;
          }
          if (c !== COMMA && c !== CLOSE_OBJ && !isSpace(c)) continue;
          // The scalar ended: what follows it is read (and copied) as usual.
          this.cut = undefined;
          this.runStart = i;
        }
      }
      if (c === QUOTE) this.stringStart(i);
      else if (c === OPEN_OBJ || c === OPEN_ARR) this.open(c === OPEN_OBJ, i);
      else if (c === CLOSE_OBJ || c === CLOSE_ARR) this.close(chunk, i);
      else if (c === COMMA) this.comma(chunk, i);
    }
    this.flush(chunk, chunk.length);
  }

  /** The list's metadata, once the whole response has been read. */
  end(): Record<string, unknown> {
    if (this.levels.length > 0 || this.inString) throw new ListFormatError('the list ended inside its JSON');
    return this.metadata;
  }

  private top(): Level | undefined {
    return this.levels[this.levels.length - 1];
  }

  /** Where the byte at chunk index i goes in the output. */
  private offset(i: number): number {
    return this.outLen + (this.runStart >= 0 ? i - this.runStart : 0);
  }

  private stringStart(i: number): void {
    this.inString = true;
    const level = this.top();
    if (this.cut || !level?.object || !level.expectKey) return;
    this.keying = true;
    this.keyLen = 0;
    this.keyAt = this.offset(i);
  }

  private stringEnd(chunk: Buffer, i: number): void {
    this.inString = false;
    if (!this.keying) return;
    this.keying = false;
    const level = this.top()!;
    level.expectKey = false;
    if (this.levels.length === 1) this.rootKey = this.keyLen <= this.keyBytes.length ? this.keyBytes.toString('latin1', 0, this.keyLen) : '';
    if (!this.capture) return;
    if (!this.dropped()) {
      level.kept = true;
      return;
    }
    // Cut the pair: back to the comma before it, or for a first pair to its key (the comma after it goes too).
    this.flush(chunk, i + 1);
    this.outLen = level.kept ? level.commaAt : this.keyAt;
    if (!level.kept) level.dropComma = true;
    this.runStart = -1;
    this.cut = { depth: this.levels.length, kind: 'unknown' };
  }

  /** The key just read is one to drop. */
  private dropped(): boolean {
    const n = this.keyLen;
    for (const k of this.dropByLength.get(n) ?? NONE) {
      let j = 0;
      while (j < n && k[j] === this.keyBytes[j]) j++;
      if (j === n) return true;
    }
    return false;
  }

  private open(object: boolean, i: number): void {
    this.levels.push({ object, expectKey: object, kept: false, commaAt: 0, dropComma: false });
    if (this.capture) return;
    const depth = this.levels.length;
    // Items are the elements of the root's "items" array; metadata is the root's "metadata" object.
    const inItems = depth === 3 && this.rootKey === 'items' && !this.levels[1]!.object;
    if (inItems && !object) throw new ListFormatError('an element of items is not an object');
    if (!inItems && !(depth === 2 && object && this.rootKey === 'metadata')) return;
    this.capture = inItems ? 'item' : 'metadata';
    this.captureDepth = depth;
    this.outLen = 0;
    this.runStart = i;
  }

  private close(chunk: Buffer, i: number): void {
    if (!this.levels.pop()) throw new ListFormatError('a bracket closes nothing');
    const depth = this.levels.length + 1;
    if (this.cut) {
      if (depth === this.cut.depth + 1) {
        this.cut = undefined; // the cut object or array ends here
        this.runStart = i + 1;
      }
      return;
    }
    const parent = this.top();
    if (parent?.object) parent.expectKey = false;
    if (!this.capture || depth !== this.captureDepth) return;
    this.flush(chunk, i + 1);
    const json = this.out.toString('utf8', 0, this.outLen);
    const what = this.capture;
    this.capture = undefined;
    this.runStart = -1;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(json) as Record<string, unknown>;
    } catch (e) {
      throw new ListFormatError(`an element of the list is not JSON: ${(e as Error).message}`);
    }
    if (what === 'metadata') this.metadata = value;
    else this.onItem(value);
  }

  private comma(chunk: Buffer, i: number): void {
    const level = this.top();
    if (this.cut || !level?.object) return;
    level.expectKey = true;
    if (!this.capture) return;
    if (level.dropComma) {
      this.flush(chunk, i);
      this.runStart = i + 1;
      level.dropComma = false;
    } else {
      level.commaAt = this.offset(i);
    }
  }

  /** Copies the run so far (up to chunk index `end`) to the output. */
  private flush(chunk: Buffer, end: number): void {
    if (this.runStart < 0 || !this.capture) return;
    const n = end - this.runStart;
    if (n > 0) {
      if (this.outLen + n > this.out.length) {
        const grown = Buffer.alloc(Math.max(this.out.length * 2, this.outLen + n));
        this.out.copy(grown, 0, 0, this.outLen);
        this.out = grown;
      }
      chunk.copy(this.out, this.outLen, this.runStart, end);
      this.outLen += n;
    }
    this.runStart = end;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
