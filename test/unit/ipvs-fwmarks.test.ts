// Firewall marks of short-circuit virtual servers: usable, distinct, stable.
import { describe, expect, it } from 'vitest';
import { FwmarkAllocator } from '../../src/backends/ipvs/fwmarks.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';

describe('FwmarkAllocator', () => {
  for (const bit of [14, 3, 20]) {
    it(`masquerade bit ${bit}: marks below 0x8000, without that bit, distinct, mostly where their hash puts them`, () => {
      const marks = new FwmarkAllocator({ ...DEFAULT_CONFIG, masqueradeBit: bit });
      const got = Array.from({ length: 2000 }, (_, i) => marks.acquire(`ns/svc-${i}:http/TCP`));
      expect(new Set(got).size).toBe(2000);
      for (const m of got) {
        expect(m).toBeGreaterThan(0);
        expect(m).toBeLessThan(0x8000);
        expect(m & (2 ** bit)).toBe(0);
      }
      // Spread over the space: a hash that piled up (say at 1, 2, 3, ...) would fail this.
      expect(Math.max(...got) - Math.min(...got)).toBeGreaterThan(0x3000);
    });
  }

  it('a port keeps its mark; a released one may be given again', () => {
    const marks = new FwmarkAllocator(DEFAULT_CONFIG);
    const a = marks.acquire('ns/a:p/TCP');
    expect(marks.acquire('ns/a:p/TCP')).toBe(a);
    marks.release('ns/a:p/TCP');
    expect(marks.acquire('ns/a:p/TCP')).toBe(a);
  });
});
