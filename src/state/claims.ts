// What an object that was skipped asked for, read leniently from its raw
// fields (it may be malformed; nothing here throws): enough for a trace to
// say that a skipped object is why a Service does not answer.
import { parseIP } from './addr.js';
import { SERVICE_NAME_LABEL } from './endpointslice.js';
import type { Raw } from './fields.js';

export interface Claims {
  /** "ns/name" of the Service: the object itself, or the one an EndpointSlice is labelled for. */
  readonly service?: string;
  /** Service addresses it names (ClusterIPs, externalIPs, ingress IPs), canonical. */
  readonly addresses: readonly string[];
  readonly nodePorts: readonly number[];
}

export function claimsOf(raw: Raw): Claims {
  const meta = record(raw.metadata);
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  if (raw.kind === 'EndpointSlice') {
    const svc = record(meta.labels)[SERVICE_NAME_LABEL];
    return { ...(typeof svc === 'string' ? { service: `${ns}/${svc}` } : {}), addresses: [], nodePorts: [] };
  }
  if (raw.kind !== 'Service') return { addresses: [], nodePorts: [] };
  const spec = record(raw.spec);
  const ingress = list(record(record(raw.status).loadBalancer).ingress).map((i) => record(i).ip);
  const named = [spec.clusterIP, ...list(spec.clusterIPs), ...list(spec.externalIPs), ...ingress];
  return {
    ...(typeof meta.name === 'string' ? { service: `${ns}/${meta.name}` } : {}),
    addresses: [...new Set(named.map((v) => parseIP(v)?.ip).filter((ip): ip is string => ip !== undefined))],
    nodePorts: list(spec.ports).map((p) => record(p).nodePort).filter((n): n is number => typeof n === 'number' && n > 0),
  };
}

function record(v: unknown): Raw {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
