// Metrics on 10249. kube-proxy's names, types, help and buckets
// (pkg/proxy/metrics/metrics.go) where the meaning is the same, so existing
// dashboards, alerts and the SIG-scalability network-programming SLI query
// work unchanged; svcrouter_* for what kube-proxy has no name for.
import type { RequestListener, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { serveHttp, type HttpEndpoint } from './http.js';

/** prometheus.ExponentialBuckets(0.001, 2, 15): 1 ms .. 16.384 s. */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i);

/** kube-proxy's MergeBuckets starts from a 0 bucket, then 0.25, 0.5, 1..59, 60..115 by 5, 120..300 by 30. */
const NETWORK_PROGRAMMING_BUCKETS = [
  0,
  0.25, 0.5,
  ...Array.from({ length: 59 }, (_, i) => 1 + i),
  ...Array.from({ length: 12 }, (_, i) => 60 + 5 * i),
  ...Array.from({ length: 7 }, (_, i) => 120 + 30 * i),
];

/** nft script size: 256 B .. 64 MiB, ×4. */
const TRANSACTION_BYTES_BUCKETS = Array.from({ length: 10 }, (_, i) => 256 * 4 ** i);
/** nft commands in one transaction: 1 .. 262144, ×4. */
const TRANSACTION_OPERATIONS_BUCKETS = Array.from({ length: 10 }, (_, i) => 4 ** i);

export function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  const syncHistogram = (name: string, help: string) => new Histogram({ name, help, buckets: SYNC_BUCKETS, registers });

  const metrics = {
    registry,
    syncDuration: syncHistogram('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds'),
    syncFullDuration: syncHistogram('kubeproxy_sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs'),
    syncPartialDuration: syncHistogram('kubeproxy_sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs'),
    networkProgrammingDuration: new Histogram({
      name: 'kubeproxy_network_programming_duration_seconds', help: 'In Cluster Network Programming Latency in seconds',
      buckets: NETWORK_PROGRAMMING_BUCKETS, registers,
    }),
    lastSyncTimestamp: new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers }),
    lastQueuedTimestamp: new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', help: 'The last time a sync of proxy rules was queued', registers }),
    syncFailures: new Counter({ name: 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total', help: 'Cumulative proxy nftables sync failures', registers }),
    endpointChanges: new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative proxy rules Endpoint changes', registers }),
    serviceChanges: new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative proxy rules Service changes', registers }),
    endpointChangesPending: new Gauge({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', help: 'Pending proxy rules Endpoint changes', registers }),
    serviceChangesPending: new Gauge({ name: 'kubeproxy_sync_proxy_rules_service_changes_pending', help: 'Pending proxy rules Service changes', registers }),
    healthzTotal: new Counter({ name: 'kubeproxy_proxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'] as const, registers }),
    livezTotal: new Counter({ name: 'kubeproxy_proxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'] as const, registers }),
    // A gauge despite the _total suffix, as in kube-proxy: it is recounted
    // (set) every sync, labelled "internal" or "external".
    noLocalEndpoints: new Gauge({
      name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', help: 'Number of services with a Local traffic policy and no endpoints',
      labelNames: ['traffic_policy'] as const, registers,
    }),

    syncTotal: new Counter({ name: 'svcrouter_sync_total', help: 'Rule syncs by kind (full, partial) and result (success, failure)', labelNames: ['kind', 'result'] as const, registers }),
    transactionBytes: new Histogram({ name: 'svcrouter_transaction_bytes', help: 'Size of each nft transaction script in bytes', buckets: TRANSACTION_BYTES_BUCKETS, registers }),
    transactionOperations: new Histogram({ name: 'svcrouter_transaction_operations', help: 'Number of nft commands in each transaction', buckets: TRANSACTION_OPERATIONS_BUCKETS, registers }),
    objectsInvalid: new Counter({
      name: 'svcrouter_objects_invalid_total', help: 'Objects rejected and skipped, by kind and reason category (see issueCategory)',
      labelNames: ['kind', 'reason'] as const, registers,
    }),
    informerRelists: new Counter({ name: 'svcrouter_informer_relists_total', help: 'Full LIST calls by an informer after its watch could not resume', labelNames: ['resource'] as const, registers }),
    tamperRestores: new Counter({ name: 'svcrouter_tamper_restores_total', help: 'Times svcrouter\'s tables were found changed by someone else and restored', registers }),
    apiErrors: new Counter({
      name: 'svcrouter_api_errors_total', help: 'Failed API lists and watches, retried with backoff, by resource and reason (http_429, http_5xx, http_4xx, gone, malformed, timeout, connection)',
      labelNames: ['resource', 'reason'] as const, registers,
    }),
  };
  // process_* and nodejs_* families, on this registry only (no prefix).
  collectDefaultMetrics({ register: registry });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

export type IssueCategory = 'invalid_ip' | 'port_out_of_range' | 'unknown_protocol' | 'invalid_name' | 'conflict' | 'contradiction' | 'other';

/**
 * A fixed label value for svcrouter_objects_invalid_total. Reasons carry the
 * offending value, so using them as labels would make cardinality unbounded
 * (and let any user with create rights mint series).
 */
export function issueCategory(field: string, reason: string): IssueCategory {
  const r = reason.toLowerCase();
  // Order matters: "clusterIPs[0] ... contradicts clusterIP" mentions IPs but is a contradiction.
  if (/\bduplicate\b|already used|\btwo ipv[46] addresses/.test(r)) return 'conflict';
  if (/contradicts|may only be set|set while/.test(r)) return 'contradiction';
  if (r.includes('unknown protocol')) return 'unknown_protocol';
  if (/not an? (ip|ipv4|ipv6) address|not a cidr/.test(r)) return 'invalid_ip';
  if (/port$/i.test(field) && /integer in|out of range/.test(r)) return 'port_out_of_range';
  if (/not a valid (dns|port name)/.test(r) || /(^|\.)(name|namespace)$/.test(field)) return 'invalid_name';
  return 'other';
}

/** /metrics, /proxyMode (plain text, no newline, as kube-proxy), component-base's "/healthz" -> "ok", and `routes`. */
export function startMetricsServer(bindAddress: string, metrics: Pick<Metrics, 'registry'>, proxyMode: string, routes: Record<string, RequestListener> = {}): Promise<HttpEndpoint> {
  const text = (body: string) => (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end(body);
  };
  return serveHttp(bindAddress, {
    ...routes,
    '/metrics': (_req, res) => {
      metrics.registry.metrics().then(
        (body) => { res.writeHead(200, { 'Content-Type': metrics.registry.contentType }); res.end(body); },
        (e: Error) => { res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }); res.end(`collecting metrics: ${e.message}\n`); },
      );
    },
    '/proxyMode': text(proxyMode),
    '/healthz': text('ok'),
  });
}
