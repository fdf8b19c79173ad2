// healthCheckNodePort servers: kube-proxy's status rule, headers and body, and
// listener churn across syncs.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceHealthServers, type ServiceHealthTarget } from '../../src/agent/service-health.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function get(port: number, path = '/') {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, headers: r.headers, text: await r.text() };
}

async function refused(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(() => false, () => true);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

function make(bindAddresses = ['127.0.0.1']) {
  const state = { healthy: true, logs: [] as string[] };
  const hs = new ServiceHealthServers({ bindAddresses, proxyHealthy: () => state.healthy, log: (m) => state.logs.push(m) });
  cleanups.push(() => hs.close());
  return { hs, state };
}

const target = (name: string, port: number, localEndpoints: number): ServiceHealthTarget => ({ namespace: 'shop', name, port, localEndpoints });

describe('ServiceHealthServers responses', () => {
  it.each([
    [2, true, 200],
    [0, true, 503],
    [2, false, 503],
    [0, false, 503],
  ])('localEndpoints=%i proxyHealthy=%s -> %i', async (count, healthy, code) => {
    const { hs, state } = make();
    state.healthy = healthy;
    const port = await freePort();
    await hs.sync([target('web', port, count)]);
    const r = await get(port, '/any/path?x=1');
    expect(r.status).toBe(code);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe(String(count));
    // kube-proxy's template after dedent: tab-indented, no trailing newline.
    expect(r.text).toBe(
      `{\n\t"service": {\n\t\t"namespace": "shop",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": ${count},\n\t"serviceProxyHealthy": ${healthy}\n}`,
    );
  });

  it('reads proxy health and counts at request time', async () => {
    const { hs, state } = make();
    const port = await freePort();
    await hs.sync([target('web', port, 1)]);
    expect((await get(port)).status).toBe(200);
    state.healthy = false;
    expect((await get(port)).status).toBe(503);
    state.healthy = true;
    await hs.sync([target('web', port, 0)]);
    expect((await get(port)).status).toBe(503);
    await hs.sync([target('web', port, 3)]);
    const r = await get(port);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('3');
  });
});

describe('ServiceHealthServers listener churn', () => {
  it('opens new ports, closes gone ones, moves a changed port', async () => {
    const { hs, state } = make();
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    await hs.sync([target('a', p1, 1), target('b', p2, 1)]);
    expect(JSON.parse((await get(p1)).text).service.name).toBe('a');
    expect(JSON.parse((await get(p2)).text).service.name).toBe('b');

    // b goes away, a moves to p3.
    await hs.sync([target('a', p3, 1)]);
    expect(await refused(p1)).toBe(true);
    expect(await refused(p2)).toBe(true);
    expect(JSON.parse((await get(p3)).text).service.name).toBe('a');

    // A port freed by one service can be taken by another in the same sync.
    await hs.sync([target('c', p3, 2)]);
    expect(JSON.parse((await get(p3)).text)).toMatchObject({ service: { name: 'c' }, localEndpoints: 2 });

    // Port 0 means "no healthCheckNodePort": nothing is opened.
    await hs.sync([target('c', 0, 2)]);
    expect(await refused(p3)).toBe(true);
    expect(state.logs.some((l) => /closing healthcheck for shop\/a/.test(l))).toBe(true);
  });

  it('a port already in use is logged, not thrown, and retried on the next sync', async () => {
    const { hs, state } = make();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as net.AddressInfo).port;
    const other = await freePort();

    await expect(hs.sync([target('web', busy, 1), target('api', other, 1)])).resolves.toBeUndefined();
    expect(state.logs.some((l) => l.includes(`failed to start healthcheck for shop/web on port ${busy}`) && l.includes('EADDRINUSE'))).toBe(true);
    expect((await get(other)).status).toBe(200); // the other service is unaffected

    await new Promise<void>((r) => blocker.close(() => r()));
    await hs.sync([target('web', busy, 1), target('api', other, 1)]);
    expect((await get(busy)).status).toBe(200);
  });

  it('with several bind addresses, a failure on one closes the others (retried whole)', async () => {
    const { hs, state } = make(['127.0.0.1', '192.0.2.1']); // TEST-NET-1: not on this host
    const port = await freePort();
    await hs.sync([target('web', port, 1)]);
    expect(state.logs.some((l) => l.includes('failed to start healthcheck for shop/web'))).toBe(true);
    expect(await refused(port)).toBe(true);
  });

  it('with no bind addresses listens on all addresses', async () => {
    const { hs } = make([]);
    const port = await freePort();
    await hs.sync([target('web', port, 1)]);
    expect((await get(port)).status).toBe(200);
  });

  it('close() releases every port and later syncs do nothing', async () => {
    const { hs } = make();
    const [p1, p2] = [await freePort(), await freePort()];
    await hs.sync([target('a', p1, 1), target('b', p2, 1)]);
    await get(p1); // leave a keep-alive connection behind
    await hs.close();
    expect(await refused(p1)).toBe(true);
    expect(await refused(p2)).toBe(true);
    await hs.sync([target('a', p1, 1)]);
    expect(await refused(p1)).toBe(true);
  });

  it('concurrent syncs are applied in order', async () => {
    const { hs } = make();
    const [p1, p2] = [await freePort(), await freePort()];
    await Promise.all([hs.sync([target('a', p1, 1)]), hs.sync([target('a', p2, 1)]), hs.sync([target('a', p2, 4)])]);
    expect(await refused(p1)).toBe(true);
    expect(JSON.parse((await get(p2)).text).localEndpoints).toBe(4);
  });
});
