// The keys cut from listed objects before parsing (informers.ts) are ones
// svcrouter never reads: every object of the example cluster, dressed as a
// real API server returns it, reads the same with them cut as without.
import { describe, expect, it } from 'vitest';
import { IGNORED_KEYS } from '../../src/k8s/informers.js';
import { ListScanner } from '../../src/k8s/list-scanner.js';
import { loadManifests } from '../../src/manifests/load.js';
import { normalizeEndpointSlice } from '../../src/state/endpointslice.js';
import type { Raw } from '../../src/state/fields.js';
import { normalizeNode, normalizeServiceCIDR } from '../../src/state/node.js';
import { normalizeService } from '../../src/state/service.js';

/** What an API server adds to an object: server-set metadata, a client's and a controller's bookkeeping, a Node's status lists. */
function dressed(o: Raw, i: number): Raw {
  const meta = o.metadata as Raw;
  const more: Raw = {
    ...o,
    metadata: {
      ...meta,
      uid: `6f1c2a4e-0000-4000-a000-${String(i).padStart(12, '0')}`, creationTimestamp: '2026-11-02T09:14:27Z', generation: 3,
      ...(o.kind === 'EndpointSlice' ? { generateName: `${meta.name as string}-` } : {}),
      annotations: { ...(meta.annotations as Raw | undefined), 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(o) },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'x', uid: 'u', controller: true }],
      managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {} } } } }],
    },
  };
  if (o.kind === 'EndpointSlice') {
    more.endpoints = ((o.endpoints as Raw[] | undefined) ?? []).map((e, j) => ({ ...e, zone: 'z9', targetRef: { kind: 'Pod', name: `p${j}`, uid: 'u' } }));
  }
  if (o.kind === 'Node') {
    more.status = { ...(o.status as Raw), images: [{ names: ['img'], sizeBytes: 1 }], nodeInfo: { kubeletVersion: 'v1.34.0' }, volumesInUse: ['v'], volumesAttached: [{ name: 'v', devicePath: '/d' }] };
  }
  return more;
}

function read(o: Raw): unknown {
  switch (o.kind) {
    case 'Service': return normalizeService(o);
    case 'EndpointSlice': return normalizeEndpointSlice(o, 'node-a');
    case 'Node': return normalizeNode(o);
    case 'ServiceCIDR': return normalizeServiceCIDR(o);
    default: throw new Error(`unexpected kind ${String(o.kind)}`);
  }
}

function cut(objects: Raw[]): Raw[] {
  const out: Raw[] = [];
  const scanner = new ListScanner((o) => out.push(o), IGNORED_KEYS);
  scanner.push(Buffer.from(JSON.stringify({ metadata: { resourceVersion: '1' }, items: objects })));
  scanner.end();
  return out;
}

describe('IGNORED_KEYS', () => {
  const objects = loadManifests(['examples/cluster']).map(({ raw }, i) => dressed(raw, i));

  it('cuts what the API server adds and changes nothing svcrouter reads, for every kind of the example cluster', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    expect([...kinds].sort()).toEqual(['EndpointSlice', 'Node', 'Service', 'ServiceCIDR']);
    const trimmed = cut(objects);
    expect(trimmed).toHaveLength(objects.length);
    for (const [i, o] of objects.entries()) {
      const t = trimmed[i]!;
      expect(JSON.stringify(t).length).toBeLessThan(JSON.stringify(o).length);
      for (const key of IGNORED_KEYS) expect(JSON.stringify(t)).not.toContain(`"${key}"`);
      expect(read(t), `${String(o.kind)} ${String((o.metadata as Raw).name)}`).toEqual(read(o));
    }
  });
});
