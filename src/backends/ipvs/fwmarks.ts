// Firewall marks of the short-circuit virtual servers, one per ETP Local
// service port. A mark must not change while its port lives (its virtual
// server would be replaced, and connections through it cut), so each port
// keeps the mark it was given; a new port starts at a hash of its id, so a
// restarted agent finds mostly the marks the kernel already holds.
import type { Config } from '../../config/config.js';
import { isUsableFwmark } from './helper-layout.js';

const SPACE = 0x8000;

export class FwmarkAllocator {
  private readonly byId = new Map<string, number>();
  private readonly used = new Set<number>();

  constructor(private readonly cfg: Config) {}

  /** The mark of `id`, given now if it has none. */
  acquire(id: string): number {
    const had = this.byId.get(id);
    if (had !== undefined) return had;
    const start = fnv1a(id) % SPACE;
    for (let i = 0; i < SPACE; i++) {
      const n = (start + i) % SPACE;
      if (!isUsableFwmark(n, this.cfg) || this.used.has(n)) continue;
      this.byId.set(id, n);
      this.used.add(n);
      return n;
    }
    throw new Error('no firewall mark left for another short-circuit virtual server');
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
