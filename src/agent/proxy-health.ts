// kube-proxy's proxy health server (pkg/proxy/healthcheck/proxy_health.go):
// /healthz and /livez on 10256. Cloud load balancers probe /healthz for
// externalTrafficPolicy=Cluster services and to drain a node before it is
// removed, so status codes, headers and body keys follow kube-proxy's.
import type http from 'node:http';
import { serveHttp, type HttpEndpoint } from './http.js';


export interface ProxyHealthStatus {
  healthy: boolean;
  lastUpdated: Date | null;
  currentTime: Date;
  nodeEligible: boolean;
}

/** Go's zero time.Time, which kube-proxy prints when nothing was ever synced. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
const TAINT_TO_BE_DELETED = 'ToBeDeletedByClusterAutoscaler';

export class ProxyHealth {
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private lastUpdatedMs: number | null = null;
  private oldestPendingMs: number | null = null;
  // Eligible until a Node event says otherwise, so that a restarting agent is
  // not pulled out of load balancers before its Node informer has synced.
  private eligible = true;

  constructor(opts: { healthTimeoutMs: number; now?: () => number }) {
    this.timeoutMs = opts.healthTimeoutMs;
    this.now = opts.now ?? Date.now;
  }

  /** A change is waiting. Only the oldest pending change matters for the timeout. */
  queuedUpdate(): void {
    if (this.oldestPendingMs === null) this.oldestPendingMs = this.now();
  }

  /** A sync was committed: everything queued so far is programmed. */
  updated(): void {
    this.oldestPendingMs = null;
    this.lastUpdatedMs = this.now();
  }

  setNodeEligible(eligible: boolean): void {
    this.eligible = eligible;
  }

  isHealthy(): boolean {
    return this.healthyAt(this.now());
  }

  status(): ProxyHealthStatus {
    const now = this.now();
    return {
      healthy: this.healthyAt(now),
      lastUpdated: this.lastUpdatedMs === null ? null : new Date(this.lastUpdatedMs),
      currentTime: new Date(now),
      nodeEligible: this.eligible,
    };
  }

  // Before the first sync: healthy while nothing is pending (kube-proxy: "the
  // proxier is healthy while it's starting up"). A change queued and still not
  // committed after healthTimeout is unhealthy even if no sync ever succeeded:
  // kube-proxy gets the same result by calling Updated() when its sync loop
  // starts, and a proxy stuck on its first sync must not look healthy forever.
  // The boundary is kube-proxy's: unhealthy at exactly healthTimeout.
  private healthyAt(now: number): boolean {
    return this.oldestPendingMs === null || now - this.oldestPendingMs < this.timeoutMs;
  }
}

/**
 * KEP-3836 eligibility from a raw v1 Node. A missing Node (deleted from the
 * informer) is not eligible, as in current kube-proxy; before the Node is first
 * seen, simply do not call setNodeEligible (ProxyHealth starts eligible).
 */
export function nodeEligible(node: Record<string, unknown> | undefined): boolean {
  if (!node) return false;
  const meta = node.metadata as Record<string, unknown> | undefined;
  const deletion = meta?.deletionTimestamp;
  if (deletion !== undefined && deletion !== null && deletion !== '') return false;
  const taints = (node.spec as Record<string, unknown> | undefined)?.taints;
  if (!Array.isArray(taints)) return true;
  return !taints.some((t) => typeof t === 'object' && t !== null && (t as Record<string, unknown>).key === TAINT_TO_BE_DELETED);
}

/** RFC 3339 in UTC with Go's RFC3339Nano trimming (no trailing zeros, no empty fraction). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_m, f: string) => (f ? `.${f}Z` : 'Z'));
}

export function startProxyHealthServer(
  bindAddress: string,
  health: ProxyHealth,
  onRequest?: (path: '/healthz' | '/livez', code: number) => void,
): Promise<HttpEndpoint> {
  const answer = (path: '/healthz' | '/livez', res: http.ServerResponse): void => {
    const s = health.status();
    const ok = s.healthy && (path === '/livez' || s.nodeEligible);
    const code = ok ? 200 : 503;
    // Older kube-proxy reported the last loop run, even with nothing to do; to
    // stay compatible a healthy answer says lastUpdated = now.
    const lastUpdated = ok ? rfc3339(s.currentTime) : s.lastUpdated ? rfc3339(s.lastUpdated) : GO_ZERO_TIME;
    const currentTime = rfc3339(s.currentTime);
    // Key order and set as kube-proxy's json.Marshal: nodeEligible only on
    // /healthz; "healthy" is the proxy's own health, not the combined verdict.
    const body = path === '/healthz'
      ? { lastUpdated, currentTime, nodeEligible: s.nodeEligible, healthy: s.healthy }
      : { lastUpdated, currentTime, healthy: s.healthy };
    onRequest?.(path, code);
    res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
    res.end(JSON.stringify(body));
  };
  return serveHttp(bindAddress, {
    '/healthz': (_req, res) => answer('/healthz', res),
    '/livez': (_req, res) => answer('/livez', res),
  });
}
