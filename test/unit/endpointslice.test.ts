// Reading an EndpointSlice: the merge of endpoints against kube-proxy's
// EndpointSliceCache rule, and the field a wrong endpoint is reported at.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mergeEndpoints, normalizeEndpointSlice } from '../../src/state/endpointslice.js';
import { FieldError } from '../../src/state/issues.js';
import type { Endpoint } from '../../src/state/types.js';

function endpoint(ip: string, port: number, isLocal: boolean, id: number): Endpoint & { id: number } {
  return { ip, port, isLocal, isRemote: !isLocal, ready: true, serving: true, terminating: false, zoneHints: [], nodeHints: [], id };
}

/** kube-proxy's rule, as a map: keyed "ip:port", the first copy kept unless a later one is local; sorted by key. */
function reference(lists: readonly (readonly Endpoint[])[]): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  for (const list of lists) {
    for (const e of list) {
      const key = e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
      if (!byKey.has(key) || e.isLocal) byKey.set(key, e);
    }
  }
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

describe('mergeEndpoints', () => {
  it('dedupes by ip:port with a local copy winning, sorted by "ip:port", as kube-proxy merges', () => {
    // Few addresses and ports, so copies are common; "10.0.0.1:80" sorts after "10.0.0.10:80".
    const ip = fc.constantFrom('10.0.0.1', '10.0.0.10', '10.0.0.2', 'fd00::1', 'fd00::a');
    let id = 0;
    const ep = fc.tuple(ip, fc.constantFrom(80, 8080, 9), fc.boolean()).map(([a, p, local]) => endpoint(a, p, local, id++));
    fc.assert(fc.property(fc.array(fc.array(ep, { maxLength: 8 }), { maxLength: 4 }), (lists) => {
      expect(mergeEndpoints(lists)).toEqual(reference(lists));
    }));
  });
});

describe('normalizeEndpointSlice', () => {
  const slice = (endpoints: unknown[]) => ({
    metadata: { name: 'web-x1', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints,
  });
  const good = { addresses: ['10.0.0.1'], conditions: { ready: true } };

  it.each([
    [{ addresses: ['10.0.0.300'] }, 'endpoints[1].addresses[0]', '"10.0.0.300" is not an IP address'],
    [{ addresses: '10.0.0.2' }, 'endpoints[1].addresses', 'must be a list'],
    [{ addresses: ['10.0.0.2'], conditions: { ready: 'yes' } }, 'endpoints[1].conditions.ready', 'must be true or false, got "yes"'],
    [{ addresses: ['10.0.0.2'], nodeName: 7 }, 'endpoints[1].nodeName', 'must be a string, got 7'],
    [{ addresses: ['10.0.0.2'], hints: { forZones: [{ name: 1 }] } }, 'endpoints[1].hints.forZones[0].name', 'must be a string, got 1'],
    ['10.0.0.2', 'endpoints[1]', 'must be an object'],
  ])('names the field of a wrong endpoint: %j', (wrong, field, reason) => {
    const thrown = (() => {
      try {
        normalizeEndpointSlice(slice([good, wrong]), 'node-a');
      } catch (e) {
        return e;
      }
    })();
    expect(thrown).toBeInstanceOf(FieldError);
    expect(thrown).toMatchObject({ field, reason });
  });

  it('ignores an endpoint of the other family and one without an address, with a note for the first', () => {
    const r = normalizeEndpointSlice(slice([{ addresses: [] }, { addresses: ['fd00::1'] }, { ...good, nodeName: 'node-a' }]), 'node-a');
    if (!('slice' in r)) throw new Error(`ignored: ${r.ignored}`);
    expect(r.notes).toEqual([{ field: 'endpoints[1].addresses[0]', note: '"fd00::1" is not an IPv4 address: this endpoint is ignored, as in kube-proxy' }]);
    expect(r.slice.ports[0]!.endpoints.map((e) => [e.ip, e.port, e.isLocal, e.ready])).toEqual([['10.0.0.1', 80, true, true]]);
  });
});
