// A client connecting to one address in a loop while something happens to the
// proxy, counting what each connection saw: the measure of "no failed connection".
// A connection fails when it is refused or not answered within 3 s: long enough
// that a loaded 2-core CI machine (where the echo servers are node processes)
// does not count as a failure, short of the 3 s a second SYN retransmit takes.
import type { Bed, From } from './bed.js';

export interface TrafficTally {
  /** Outcome ('ok', 'refused', 'timeout', 'error: ...') -> connections. */
  readonly outcomes: ReadonlyMap<string, number>;
  readonly ok: number;
  readonly failed: number;
}

export interface TrafficLoop {
  /** Finishes the round in flight and returns the tally. */
  stop(): Promise<TrafficTally>;
}

export function startTrafficLoop(bed: Bed, from: From, proto: 'tcp' | 'udp', addr: string, port: number, perRound = 8): TrafficLoop {
  const outcomes = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const results = await bed.probe(from, Array.from({ length: perRound }, () => ({ proto, addr, port, timeoutMs: 3000 })));
      for (const r of results) {
        const x = r.outcome === 'error' ? `error: ${r.message}` : r.outcome;
        outcomes.set(x, (outcomes.get(x) ?? 0) + 1);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const ok = outcomes.get('ok') ?? 0;
      return { outcomes, ok, failed: [...outcomes.values()].reduce((a, b) => a + b, 0) - ok };
    },
  };
}
