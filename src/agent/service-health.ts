// kube-proxy's healthCheckNodePort servers (pkg/proxy/healthcheck/service_health.go).
// A LoadBalancer with externalTrafficPolicy=Local only keeps nodes that answer
// 200 here, so a node without a local endpoint (or with a stuck proxy) must say
// 503 and drop out instead of blackholing traffic.
import http from 'node:http';
import { closeServer, listenServer } from './http.js';

export interface ServiceHealthTarget {
  namespace: string;
  name: string;
  /** spec.healthCheckNodePort; 0 means none and is ignored. */
  port: number;
  /** Local ready endpoints (kube-proxy excludes terminating ones). */
  localEndpoints: number;
}

interface Instance {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  localEndpoints: number;
  servers: http.Server[];
}

export class ServiceHealthServers {
  private readonly services = new Map<string, Instance>();
  // sync() awaits binds and closes; serialising keeps two syncs from racing
  // for the same port.
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: { bindAddresses: string[]; proxyHealthy: () => boolean; log?: (msg: string) => void }) {}

  sync(targets: ServiceHealthTarget[]): Promise<void> {
    const run = this.queue.then(() => (this.closed ? undefined : this.apply(targets)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): Promise<void> {
    const run = this.queue.then(async () => {
      this.closed = true;
      const all = [...this.services.values()];
      this.services.clear();
      await Promise.all(all.map((i) => closeAll(i.servers)));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(targets: ServiceHealthTarget[]): Promise<void> {
    const wanted = new Map(targets.filter((t) => t.port > 0).map((t) => [`${t.namespace}/${t.name}`, t]));
    // Close first (as kube-proxy does) so a port that moved between services,
    // or a service whose port changed, can be bound again in this same sync.
    const gone = [...this.services].filter(([key, inst]) => wanted.get(key)?.port !== inst.port);
    for (const [key, inst] of gone) {
      this.services.delete(key);
      this.log(`closing healthcheck for ${key} on port ${inst.port}`);
    }
    await Promise.all(gone.map(([, inst]) => closeAll(inst.servers)));

    for (const [key, t] of wanted) {
      const existing = this.services.get(key);
      if (existing) {
        existing.localEndpoints = t.localEndpoints;
        continue;
      }
      const inst: Instance = { namespace: t.namespace, name: t.name, port: t.port, localEndpoints: t.localEndpoints, servers: [] };
      try {
        inst.servers = await this.listenAll(inst);
        this.services.set(key, inst);
        this.log(`opened healthcheck for ${key} on port ${t.port}`);
      } catch (e) {
        // Not remembered, so the next sync tries again (kube-proxy also emits
        // a FailedToStartServiceHealthcheck event; that is the caller's job).
        this.log(`failed to start healthcheck for ${key} on port ${t.port}: ${(e as Error).message}`);
      }
    }
  }

  /** One listener per bind address; all or nothing, so a retry starts clean. */
  private async listenAll(inst: Instance): Promise<http.Server[]> {
    const hosts: (string | undefined)[] = this.opts.bindAddresses.length > 0 ? this.opts.bindAddresses : [undefined];
    const servers: http.Server[] = [];
    try {
      for (const host of hosts) {
        const server = http.createServer((_req, res) => this.answer(inst, res));
        await listenServer(server, inst.port, host);
        servers.push(server);
      }
    } catch (e) {
      await closeAll(servers);
      throw e;
    }
    return servers;
  }

  // Any path and method, like kube-proxy's handler.
  private answer(inst: Instance, res: http.ServerResponse): void {
    const count = inst.localEndpoints;
    const healthy = this.opts.proxyHealthy();
    res.writeHead(count !== 0 && healthy ? 200 : 503, {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(count),
    });
    // Tab-indented: byte for byte what kube-proxy's dedented template prints.
    res.end(JSON.stringify({ service: { namespace: inst.namespace, name: inst.name }, localEndpoints: count, serviceProxyHealthy: healthy }, null, '\t'));
  }

  private log(msg: string): void {
    this.opts.log?.(msg);
  }
}

function closeAll(servers: http.Server[]): Promise<void> {
  return Promise.all(servers.map(closeServer)).then(() => undefined);
}
