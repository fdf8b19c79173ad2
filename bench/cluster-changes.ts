// The API writes the agent benchmarks make, on a cluster from
// synthetic-cluster.ts: one endpoint added to or removed from a service, or a
// whole new service. Services are visited in a fixed pseudo-random order, so
// consecutive changes land on unrelated services of every kind.
import { endpoint, extraEndpointIPv4, isBig, serviceObjects, sliceName, type Raw } from './synthetic-cluster.js';

export class ClusterChanges {
  private readonly slices = new Map<string, Raw>();
  /** Services that hold an endpoint the bench added. */
  private readonly extended = new Set<number>();
  private readonly order: number[];
  private extraEndpoints = 0;
  private addedServices = 0;

  constructor(objects: readonly Raw[], private readonly services: number, private readonly endpointsPerService: number) {
    for (const o of objects) if (o.kind === 'EndpointSlice') this.slices.set(o.metadata.name, o);
    // Knuth's multiplicative hash as a sort key: a fixed shuffle. The 1,000-endpoint services are left alone.
    const key = (i: number) => Math.imul(i + 1, 2654435761) >>> 0;
    this.order = Array.from({ length: services }, (_, i) => i).filter((i) => !isBig(i)).sort((a, b) => key(a) - key(b));
  }

  /** The k-th service of the visiting order. */
  target(k: number): number {
    return this.order[k % this.order.length];
  }

  /** Service i's IPv4 slice with one more endpoint (an address no generated object uses). */
  addEndpoint(i: number): Raw {
    const slice = this.current(i);
    this.extended.add(i);
    return this.replace(slice, [...slice.endpoints, endpoint(extraEndpointIPv4(this.extraEndpoints++), slice.endpoints.length)]);
  }

  /** Service i's IPv4 slice without its last endpoint (the bench's own, if it added one). */
  removeEndpoint(i: number): Raw {
    const slice = this.current(i);
    this.extended.delete(i);
    return this.replace(slice, slice.endpoints.slice(0, -1));
  }

  /** Adds an endpoint where none was added yet, else removes it: churn that keeps the cluster's size. */
  toggleEndpoint(i: number): Raw {
    return this.extended.has(i) ? this.removeEndpoint(i) : this.addEndpoint(i);
  }

  /** A service beyond the generated ones, slices first: the agent programs it whole on the Service's event. */
  addService(): Raw[] {
    const [service, ...slices] = serviceObjects(this.services + this.addedServices++, this.endpointsPerService);
    return [...slices, service];
  }

  private current(i: number): Raw {
    const slice = this.slices.get(sliceName(i, 'IPv4'));
    if (!slice) throw new Error(`no IPv4 slice for service ${i}`);
    return slice;
  }

  private replace(slice: Raw, endpoints: Raw[]): Raw {
    const next = { ...slice, endpoints };
    this.slices.set(slice.metadata.name, next);
    return next;
  }
}
