// kube-proxy's /healthz and /livez semantics, over real HTTP with a fake clock.
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyHealth, nodeEligible, rfc3339, startProxyHealthServer } from '../../src/agent/proxy-health.js';
import type { HttpEndpoint } from '../../src/agent/http.js';
import { parseBindAddress } from '../../src/config/bind-address.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const TIMEOUT = 60_000; // 2 × the default 30 s syncPeriod

function fixture() {
  const clock = { t: T0 };
  const health = new ProxyHealth({ healthTimeoutMs: TIMEOUT, now: () => clock.t });
  return { clock, health };
}

let servers: HttpEndpoint[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(health: ProxyHealth, seen?: [string, number][]) {
  const s = await startProxyHealthServer('127.0.0.1:0', health, (p, c) => seen?.push([p, c]));
  servers.push(s);
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${s.port}${path}`);
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  return { s, get };
}

describe('ProxyHealth state', () => {
  it('is healthy before anything was queued or synced', () => {
    const { health } = fixture();
    expect(health.isHealthy()).toBe(true);
    expect(health.status()).toEqual({ healthy: true, lastUpdated: null, currentTime: new Date(T0), nodeEligible: true });
  });

  it('stays healthy while a queued change is younger than the timeout, and turns unhealthy at exactly the timeout', () => {
    const { clock, health } = fixture();
    health.queuedUpdate();
    clock.t += TIMEOUT - 1;
    expect(health.isHealthy()).toBe(true);
    clock.t += 1;
    expect(health.isHealthy()).toBe(false);
  });

  it('measures from the oldest pending change, not the latest', () => {
    const { clock, health } = fixture();
    health.queuedUpdate();
    clock.t += TIMEOUT / 2;
    health.queuedUpdate();
    clock.t += TIMEOUT / 2;
    expect(health.isHealthy()).toBe(false);
  });

  it('a committed sync clears the pending change and records lastUpdated', () => {
    const { clock, health } = fixture();
    health.queuedUpdate();
    clock.t += TIMEOUT * 2;
    health.updated();
    expect(health.isHealthy()).toBe(true);
    expect(health.status().lastUpdated).toEqual(new Date(T0 + TIMEOUT * 2));
    // A new change starts a new timeout window.
    clock.t += 1000;
    health.queuedUpdate();
    clock.t += TIMEOUT - 1;
    expect(health.isHealthy()).toBe(true);
  });

  it('node eligibility does not change proxy health', () => {
    const { health } = fixture();
    health.setNodeEligible(false);
    expect(health.isHealthy()).toBe(true);
    expect(health.status().nodeEligible).toBe(false);
  });
});

describe('nodeEligible', () => {
  it.each([
    ['plain node', { metadata: { name: 'n' }, spec: {} }, true],
    ['other taints', { metadata: {}, spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } }, true],
    ['being deleted', { metadata: { deletionTimestamp: '2025-03-01T10:00:00Z' } }, false],
    ['autoscaler taint', { metadata: {}, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1700000000', effect: 'NoSchedule' }] } }, false],
    ['garbage taints', { spec: { taints: 'nope' } }, true],
    ['gone', undefined, false],
  ])('%s', (_name, node, want) => {
    expect(nodeEligible(node as Record<string, unknown> | undefined)).toBe(want);
  });
});

describe('HTTP', () => {
  it('answers 200 with kube-proxy headers and body before the first sync', async () => {
    const { health } = fixture();
    const { get } = await serve(health);
    const h = await get('/healthz');
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toBe('application/json');
    expect(h.headers.get('x-content-type-options')).toBe('nosniff');
    // Healthy: lastUpdated is reported as now, for compatibility.
    expect(h.text).toBe('{"lastUpdated":"2025-03-01T10:00:00Z","currentTime":"2025-03-01T10:00:00Z","nodeEligible":true,"healthy":true}');
    const l = await get('/livez');
    expect(l.status).toBe(200);
    expect(l.text).toBe('{"lastUpdated":"2025-03-01T10:00:00Z","currentTime":"2025-03-01T10:00:00Z","healthy":true}');
  });

  it('goes 503 when a change is stuck past the timeout, and back to 200 after a sync', async () => {
    const { clock, health } = fixture();
    const seen: [string, number][] = [];
    const { get } = await serve(health, seen);

    health.updated(); // T0
    clock.t += 5000;
    health.queuedUpdate();
    clock.t += 30_000;
    expect((await get('/healthz')).status).toBe(200);

    clock.t += 30_000;
    const bad = await get('/healthz');
    expect(bad.status).toBe(503);
    expect(JSON.parse(bad.text)).toEqual({
      lastUpdated: '2025-03-01T10:00:00Z', currentTime: '2025-03-01T10:01:05Z', nodeEligible: true, healthy: false,
    });
    expect((await get('/livez')).status).toBe(503);

    clock.t += 250;
    health.updated();
    const good = await get('/healthz');
    expect(good.status).toBe(200);
    expect(JSON.parse(good.text).lastUpdated).toBe('2025-03-01T10:01:05.25Z');
    expect(seen).toEqual([['/healthz', 200], ['/healthz', 503], ['/livez', 503], ['/healthz', 200]]);
  });

  it('reports Go zero time when unhealthy and never synced', async () => {
    const { clock, health } = fixture();
    const { get } = await serve(health);
    health.queuedUpdate();
    clock.t += TIMEOUT;
    const r = await get('/livez');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).lastUpdated).toBe('0001-01-01T00:00:00Z');
  });

  it('an ineligible node fails /healthz only; the body still gives the proxy health', async () => {
    const { health } = fixture();
    const { get } = await serve(health);
    health.setNodeEligible(false);
    const h = await get('/healthz');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.text)).toMatchObject({ nodeEligible: false, healthy: true });
    expect((await get('/livez')).status).toBe(200);
    health.setNodeEligible(true);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('ignores the query string and 404s other paths', async () => {
    const { health } = fixture();
    const { get } = await serve(health);
    expect((await get('/healthz?verbose=1')).status).toBe(200);
    for (const p of ['/', '/healthz/', '/metrics', '/readyz']) {
      const r = await get(p);
      expect(r.status).toBe(404);
      expect(r.text).toBe('404 page not found\n');
    }
  });

  it('close() returns even with a keep-alive connection open', async () => {
    const { health } = fixture();
    const s = await startProxyHealthServer('127.0.0.1:0', health);
    await fetch(`http://127.0.0.1:${s.port}/healthz`, { headers: { connection: 'keep-alive' } }).then((r) => r.text());
    await s.close();
    await expect(fetch(`http://127.0.0.1:${s.port}/healthz`)).rejects.toThrow();
  });
});

describe('helpers', () => {
  it('parses bind addresses', () => {
    expect(parseBindAddress('0.0.0.0:10256')).toEqual({ host: '0.0.0.0', port: 10256 });
    expect(parseBindAddress('[::]:10256')).toEqual({ host: '::', port: 10256 });
    expect(parseBindAddress('[::1]:10249')).toEqual({ host: '::1', port: 10249 });
    expect(parseBindAddress(':10256')).toEqual({ host: '', port: 10256 });
    expect(parseBindAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    for (const bad of ['10256', '::1:10249', '1.2.3.4:70000', '1.2.3.4:', '[::1]']) expect(() => parseBindAddress(bad)).toThrow(/bind address/);
  });

  it('formats times like Go RFC3339Nano in UTC', () => {
    expect(rfc3339(new Date('2025-03-01T10:00:00.000Z'))).toBe('2025-03-01T10:00:00Z');
    expect(rfc3339(new Date('2025-03-01T10:00:00.120Z'))).toBe('2025-03-01T10:00:00.12Z');
    expect(rfc3339(new Date('2025-03-01T10:00:00.007Z'))).toBe('2025-03-01T10:00:00.007Z');
    expect(rfc3339(new Date('2025-03-01T10:00:00.500Z'))).toBe('2025-03-01T10:00:00.5Z');
  });
});
