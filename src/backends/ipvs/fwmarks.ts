// Firewall marks of the short-circuit virtual servers, one per ETP Local
// service port. A mark must not change while its port lives (its virtual
// server would be replaced, and connections through it cut), so each port
// keeps the mark it was given; a new port starts at a hash of its id, so a
// restarted agent finds mostly the marks the kernel already holds.
import type { Config } from '../../config/config.js';
import { isUsableFwmark } from './helper-layout.js';

/** Marks are 15-bit values; the masquerade bit, when it is among those bits, is never set. */
const BITS = 15;

export class FwmarkAllocator {
  private readonly byId = new Map<string, number>();
  private readonly used = new Set<number>();
  private readonly bit: number;
  private readonly size: number;

  constructor(private readonly cfg: Config) {
    this.bit = cfg.masqueradeBit;
    this.size = 2 ** (this.bit < BITS ? BITS - 1 : BITS);
  }

  /** The mark of `id`, given now if it has none. */
  acquire(id: string): number {
    const had = this.byId.get(id);
    if (had !== undefined) return had;
    const start = fnv1a(id) % this.size;
    for (let i = 0; i < this.size; i++) {
      const n = this.markAt((start + i) % this.size);
      if (!isUsableFwmark(n, this.cfg) || this.used.has(n)) continue;
      this.byId.set(id, n);
      this.used.add(n);
      return n;
    }
    throw new Error('no firewall mark left for another short-circuit virtual server');
  }

  /** The index-th usable value: `index` with a zero bit inserted at the masquerade bit. */
  private markAt(index: number): number {
    if (this.bit >= BITS) return index;
    const low = index % 2 ** this.bit;
    return (index - low) * 2 + low;
  }

  release(id: string): void {
    const n = this.byId.get(id);
    if (n === undefined) return;
    this.byId.delete(id);
    this.used.delete(n);
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
