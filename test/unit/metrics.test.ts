// Metric names, types and buckets as kube-proxy's, the reason categories, and
// the 10249 endpoints.
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, issueCategory, startMetricsServer } from '../../src/agent/metrics.js';
import type { HttpEndpoint } from '../../src/agent/http.js';

let servers: HttpEndpoint[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const NAMES: [string, string][] = [
  ['kubeproxy_sync_proxy_rules_duration_seconds', 'histogram'],
  ['kubeproxy_sync_full_proxy_rules_duration_seconds', 'histogram'],
  ['kubeproxy_sync_partial_proxy_rules_duration_seconds', 'histogram'],
  ['kubeproxy_network_programming_duration_seconds', 'histogram'],
  ['kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'gauge'],
  ['kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', 'gauge'],
  ['kubeproxy_sync_proxy_rules_nftables_sync_failures_total', 'counter'],
  ['kubeproxy_sync_proxy_rules_endpoint_changes_total', 'counter'],
  ['kubeproxy_sync_proxy_rules_service_changes_total', 'counter'],
  ['kubeproxy_sync_proxy_rules_endpoint_changes_pending', 'gauge'],
  ['kubeproxy_sync_proxy_rules_service_changes_pending', 'gauge'],
  ['kubeproxy_proxy_healthz_total', 'counter'],
  ['kubeproxy_proxy_livez_total', 'counter'],
  ['kubeproxy_sync_proxy_rules_no_local_endpoints_total', 'gauge'],
  ['svcrouter_sync_total', 'counter'],
  ['svcrouter_transaction_bytes', 'histogram'],
  ['svcrouter_transaction_operations', 'histogram'],
  ['svcrouter_objects_invalid_total', 'counter'],
  ['svcrouter_informer_relists_total', 'counter'],
  ['svcrouter_api_errors_total', 'counter'],
  ['svcrouter_tamper_restores_total', 'counter'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
];

function buckets(text: string, name: string): string[] {
  return [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}`, 'gm'))].map((m) => m[1]);
}

describe('createMetrics', () => {
  it('exposes every family with its kube-proxy type', async () => {
    const text = await createMetrics().registry.metrics();
    for (const [name, type] of NAMES) expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
  });

  it('uses kube-proxy buckets', async () => {
    const m = createMetrics();
    m.syncDuration.observe(0.01);
    m.networkProgrammingDuration.observe(3);
    const text = await m.registry.metrics();
    expect(buckets(text, 'kubeproxy_sync_proxy_rules_duration_seconds')).toEqual([
      '0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '16.384', '+Inf',
    ]);
    const np = buckets(text, 'kubeproxy_network_programming_duration_seconds');
    expect(np.length).toBe(1 + 2 + 59 + 12 + 7 + 1);
    expect(np.slice(0, 5)).toEqual(['0', '0.25', '0.5', '1', '2']);
    expect(np.slice(60, 64)).toEqual(['58', '59', '60', '65']);
    expect(np.slice(-9)).toEqual(['115', '120', '150', '180', '210', '240', '270', '300', '+Inf']);
  });

  it('keeps registries separate', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.serviceChanges.inc(5);
    expect(await a.registry.metrics()).toContain('kubeproxy_sync_proxy_rules_service_changes_total 5');
    expect(await b.registry.metrics()).toContain('kubeproxy_sync_proxy_rules_service_changes_total 0');
  });

  it('records labelled series', async () => {
    const m = createMetrics();
    m.healthzTotal.inc({ code: '503' });
    m.noLocalEndpoints.set({ traffic_policy: 'external' }, 2);
    m.syncTotal.inc({ kind: 'partial', result: 'success' });
    m.objectsInvalid.inc({ kind: 'Service', reason: issueCategory('spec.ports[0].port', 'must be an integer in 1-65535, got 0') });
    const text = await m.registry.metrics();
    expect(text).toContain('kubeproxy_proxy_healthz_total{code="503"} 1');
    expect(text).toContain('kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"} 2');
    expect(text).toContain('svcrouter_sync_total{kind="partial",result="success"} 1');
    expect(text).toContain('svcrouter_objects_invalid_total{kind="Service",reason="port_out_of_range"} 1');
  });
});

describe('issueCategory', () => {
  // Reason texts as src/state produces them.
  it.each([
    ['spec.clusterIP', '"10.0.0.300" is not an IP address', 'invalid_ip'],
    ['endpoints[0].addresses[0]', '"fd00::1" is not an IPv4 address', 'invalid_ip'],
    ['spec.loadBalancerSourceRanges[0]', '"10.0.0.0/33" is not a CIDR', 'invalid_ip'],
    ['spec.ports[0].port', 'must be an integer in 1-65535, got 70000', 'port_out_of_range'],
    ['spec.ports[1].nodePort', 'must be an integer in 0-65535, got -1', 'port_out_of_range'],
    ['spec.healthCheckNodePort', 'must be an integer in 0-65535, got "x"', 'port_out_of_range'],
    ['spec.ports[0].protocol', 'unknown protocol "ICMP" (want TCP, UDP or SCTP)', 'unknown_protocol'],
    ['metadata.name', '"Web" is not a valid DNS label (lowercase alphanumerics and \'-\', at most 63 characters)', 'invalid_name'],
    ['spec.ports[0].name', 'must be set when a Service has more than one port', 'invalid_name'],
    ['spec.ports[1].name', 'duplicate port name "http"', 'conflict'],
    ['spec.ports[1].port', 'duplicate TCP port 80', 'conflict'],
    ['spec.clusterIPs', 'two IPv4 addresses', 'conflict'],
    ['spec.ports[0].nodePort', 'nodePort 30080/TCP is already used by Service a/b', 'conflict'],
    ['spec.clusterIPs', 'clusterIPs[0] "10.0.0.2" contradicts clusterIP "10.0.0.1"', 'contradiction'],
    ['spec.externalTrafficPolicy', 'may only be set when type is NodePort or LoadBalancer (type is ClusterIP)', 'contradiction'],
    ['spec.sessionAffinityConfig', 'set while sessionAffinity is None', 'contradiction'],
    ['spec.type', 'unknown type "Weird"', 'other'],
    ['spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'must be an integer in 1-86400, got 0', 'other'],
    ['', 'must be an object', 'other'],
  ])('%s: %s -> %s', (field, reason, want) => {
    expect(issueCategory(field, reason)).toBe(want);
  });
});

describe('startMetricsServer', () => {
  it('serves /metrics, /proxyMode, /healthz and 404s the rest', async () => {
    const m = createMetrics();
    m.lastSyncTimestamp.set(1740823200);
    const s = await startMetricsServer('127.0.0.1:0', m, 'nftables');
    servers.push(s);
    expect(s.address).toBe('127.0.0.1');
    const base = `http://127.0.0.1:${s.port}`;

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe(m.registry.contentType);
    const text = await metrics.text();
    expect(text).toContain('kubeproxy_sync_proxy_rules_last_timestamp_seconds 1740823200');
    for (const [name] of NAMES) expect(text).toContain(`# HELP ${name} `);

    const mode = await fetch(`${base}/proxyMode`);
    expect(mode.status).toBe(200);
    expect(mode.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await mode.text()).toBe('nftables');

    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('binds an IPv6 loopback given as [::1]:0 when the host has one', async () => {
    const s = await startMetricsServer('[::1]:0', createMetrics(), 'nftables').catch(() => null);
    if (!s) return; // no IPv6 in this sandbox
    servers.push(s);
    expect(s.address).toBe('::1');
    expect(await (await fetch(`http://[::1]:${s.port}/proxyMode`)).text()).toBe('nftables');
  });
});
