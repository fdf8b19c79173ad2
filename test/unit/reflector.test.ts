// The reflector against the fake API server, through @kubernetes/client-node's
// KubeConfig: every gap of client-node's own informer, one test each.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { Reflector, type Obj } from '../../src/k8s/reflector.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { service } from '../support/manifests.js';
import { until as waitUntil } from '../support/until.js';

let api: FakeApiServer | undefined;
let reflector: Reflector | undefined;
afterEach(async () => {
  await reflector?.stop();
  await api?.stop();
  reflector = undefined;
  api = undefined;
});

function kubeconfig(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const svc = (name: string, port = 80, labels: Record<string, string> = {}) =>
  service(name, { clusterIP: '10.96.0.1', ports: [{ port }] }, {}, labels);

interface Seen { type: string; name: string; port: number }

async function start(opts: { idleTimeoutMs?: number; labelSelector?: string; pageSize?: number; remindEveryMs?: number } = {}) {
  api = await startFakeApiServer({ host: '127.0.0.1', token: 'secret', bookmarkIntervalMs: 200 });
  const events: Seen[] = [];
  const errors: string[] = [];
  const logs: { level: string; msg: string }[] = [];
  reflector = new Reflector({
    kc: kubeconfig(api.url), path: '/api/v1/services', onEvent: (type, o: Obj) => events.push({ type, name: o.metadata.name, port: o.spec?.ports?.[0]?.port }),
    backoffMs: { initial: 20, max: 200 }, onError: (reason) => errors.push(reason), log: (level, msg) => logs.push({ level, msg }), ...opts,
  });
  return { api, events, errors, logs, r: reflector };
}

const lists = (a: FakeApiServer) => a.requests.filter((q) => q.query.watch === undefined);

const until = (cond: () => boolean, ms = 5000) => waitUntil('the condition', cond, ms, 20);

const names = (r: Reflector) => [...r.keys()].map((k) => k.split('/').pop()).sort();

describe('Reflector', () => {
  it('signals synced only after the whole (paginated) list is cached, with the token and selectors sent', async () => {
    const { api, r } = await start({ labelSelector: '!service.kubernetes.io/service-proxy-name', pageSize: 2 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.upsert(svc(n));
    api.upsert(svc('other', 80, { 'service.kubernetes.io/service-proxy-name': 'x' }));
    expect(r.hasSynced()).toBe(false);
    r.start();
    await r.synced;
    expect(names(r)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const lists = api.requests.filter((q) => q.query.watch === undefined);
    expect(lists.length).toBe(3); // pages of 2
    expect(lists[0]!.headers.authorization).toBe('Bearer secret');
    expect(lists[0]!.query.labelSelector).toBe('!service.kubernetes.io/service-proxy-name');
  });

  it('watches with bookmarks and a server-side timeout, and follows live changes', async () => {
    const { api, events, r } = await start();
    api.upsert(svc('a'));
    r.start();
    await r.synced;
    api.upsert(svc('b'));
    api.upsert(svc('a', 81));
    api.remove('Service', 'default', 'b');
    await until(() => events.length === 4);
    expect(events).toEqual([{ type: 'ADDED', name: 'a', port: 80 }, { type: 'ADDED', name: 'b', port: 80 }, { type: 'MODIFIED', name: 'a', port: 81 }, { type: 'DELETED', name: 'b', port: 80 }]);
    const watch = api.requests.find((q) => q.query.watch === 'true')!;
    expect(watch.query.allowWatchBookmarks).toBe('true');
    expect(Number(watch.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
  });

  it('resumes after a dropped connection from its last resourceVersion, missing nothing', async () => {
    const { api, events, r } = await start();
    api.upsert(svc('a'));
    r.start();
    await r.synced;
    api.dropWatches();
    api.upsert(svc('b'));
    await until(() => events.some((e) => e.name === 'b'));
    expect(names(r)).toEqual(['a', 'b']);
    const lists = api.requests.filter((q) => q.query.watch === undefined);
    expect(lists).toHaveLength(1); // resumed by watch, no relist
  });

  it('keeps retrying after HTTP errors on list and watch (never a silent stop)', async () => {
    const { api, r } = await start();
    api.upsert(svc('a'));
    api.failNext('Service', 'list', 500, 3);
    r.start();
    await r.synced;
    api.failNext('Service', 'watch', 429, 2);
    api.dropWatches();
    api.upsert(svc('b'));
    await until(() => names(r).includes('b'));
  });

  it('relists on 410 Gone, and the relist emits only the real differences', async () => {
    const { api, events, r } = await start();
    for (const n of ['a', 'b', 'c']) api.upsert(svc(n));
    r.start();
    await r.synced;
    events.length = 0;
    await api.stop(); // changes happen while we are disconnected, and history is lost
    api.upsert(svc('b', 99));
    api.remove('Service', 'default', 'c');
    api.upsert(svc('d'));
    api.compactHistory();
    await api.restart();
    await until(() => names(r).join() === 'a,b,d' && events.length >= 3);
    // A deletion found by a relist carries the object's metadata only: the reflector keeps no objects.
    expect(events.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { type: 'MODIFIED', name: 'b', port: 99 }, { type: 'DELETED', name: 'c', port: undefined }, { type: 'ADDED', name: 'd', port: 80 },
    ]);
  });

  it('abandons a stalled watch after the idle timeout and reconnects', async () => {
    const { api, r } = await start({ idleTimeoutMs: 300 });
    api.upsert(svc('a'));
    r.start();
    await r.synced;
    api.stallWatches();
    api.upsert(svc('b')); // not delivered on the stalled stream
    await until(() => names(r).includes('b'), 5000);
  });

  it('bookmarks advance the resourceVersion, so a reconnect after compaction needs no relist', async () => {
    const server = (api = await startFakeApiServer({ host: '127.0.0.1', token: 'secret', bookmarkIntervalMs: 60_000 }));
    let relists = 0;
    const r = (reflector = new Reflector({
      kc: kubeconfig(server.url), path: '/api/v1/services', labelSelector: '!skip', onEvent: () => {},
      onRelist: () => relists++, backoffMs: { initial: 20, max: 200 },
    }));
    server.upsert(svc('a'));
    r.start();
    await r.synced;
    await until(() => server.requests.some((q) => q.query.watch === 'true'));
    await new Promise((res) => setTimeout(res, 100)); // the watch is open
    // Events the selector filters out move the server's resourceVersion, not ours...
    for (let i = 0; i < 5; i++) server.upsert(svc(`hidden-${i}`, 80, { skip: 'yes' }));
    server.bookmarkNow(); // ...until a bookmark tells us.
    await new Promise((res) => setTimeout(res, 150));
    server.compactHistory();
    server.dropWatches();
    await until(() => server.requests.filter((q) => q.query.watch === 'true').length >= 2);
    await new Promise((res) => setTimeout(res, 150));
    expect(relists).toBe(0); // without the bookmark, the old resourceVersion would get 410 and a relist
    expect(server.requests.filter((q) => q.query.watch === undefined)).toHaveLength(1);
    expect(server.requests.filter((q) => q.query.watch === 'true').map((q) => q.query.resourceVersion)).toEqual(['1', '6']);
  });

  it('honours Retry-After on 429, and counts each failure by reason', async () => {
    const { api, errors, r } = await start();
    api.upsert(svc('a'));
    api.failNext('Service', 'list', 429, 1, 1);
    const started = Date.now();
    r.start();
    await r.synced;
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // the backoff alone would retry after 10-20 ms
    api.failNext('Service', 'watch', 503, 2);
    api.dropWatches();
    api.upsert(svc('b'));
    await until(() => names(r).includes('b'));
    expect(errors[0]).toBe('http_429');
    expect(errors.filter((e) => e === 'http_5xx')).toHaveLength(2);
  });

  it('a malformed watch event relists: the list is the truth, and nothing is lost', async () => {
    const { api, errors, events, r } = await start();
    api.upsert(svc('a'));
    api.upsert(svc('b'));
    r.start();
    await r.synced;
    await until(() => api.requests.some((q) => q.query.watch === 'true'));
    await new Promise((res) => setTimeout(res, 50));
    api.sendRawWatchLine('Service', '{"type":"MODIFIED","object":{"metadata":{"name":"a",,}}}\n');
    api.remove('Service', 'default', 'b');
    api.upsert(svc('c'));
    await until(() => names(r).join() === 'a,c');
    expect(errors).toContain('malformed');
    expect(lists(api)).toHaveLength(2);
    expect(events.filter((e) => e.type === 'DELETED').map((e) => e.name)).toEqual(['b']);
  });

  it('an event without a name, an unknown event type, and a stream that ends inside an event are malformed too', async () => {
    const { api, errors, r } = await start();
    api.upsert(svc('a'));
    r.start();
    await r.synced;
    for (const [line, end] of [['{"type":"ADDED","object":{"metadata":{}}}\n', false], ['{"type":"SOMETHING","object":{}}\n', false], ['{"type":"ADDED","obj', true]] as const) {
      const before = lists(api).length;
      await until(() => api.requests.filter((q) => q.query.watch === 'true').length > 0);
      await new Promise((res) => setTimeout(res, 50));
      api.sendRawWatchLine('Service', line, end);
      await until(() => lists(api).length > before);
    }
    expect(errors.filter((e) => e === 'malformed')).toHaveLength(3);
    expect(names(r)).toEqual(['a']);
  });

  it('a list that fails between its pages is never half-applied: no deletion, no sync, until a whole list arrives', async () => {
    const { api, events, r } = await start({ pageSize: 2 });
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.upsert(svc(n));
    api.failNext('Service', 'page', 500, 3);
    r.start();
    await until(() => api.requests.filter((q) => q.query.continue).length >= 2);
    expect(r.hasSynced()).toBe(false);
    await r.synced;
    expect(names(r)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(events.filter((e) => e.type === 'DELETED')).toEqual([]);
  });

  it('asks for the next page as soon as the continue token has arrived, while the page is still being read', async () => {
    // A server that sends page 1's metadata and first item, then holds the rest until page 2 is asked for.
    const item = (name: string) => JSON.stringify(svc(name));
    let asked!: () => void;
    const pageTwoAsked = new Promise<void>((resolve) => (asked = resolve));
    let heldUntilAsked: boolean | undefined;
    const server = createServer((req, res) => {
      const cont = new URL(req.url!, 'http://x').searchParams.get('continue');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (cont === 'page-2') {
        asked();
        return void res.end(`{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[${item('c')}]}`);
      }
      res.write(`{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"page-2"},"items":[${item('a')},`);
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000));
      void Promise.race([pageTwoAsked.then(() => true), timeout]).then((inTime) => {
        heldUntilAsked = inTime;
        res.end(`${item('b')}]}`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      reflector = new Reflector({ kc: kubeconfig(`http://127.0.0.1:${port}`), path: '/api/v1/services', onEvent: () => {}, backoffMs: { initial: 20, max: 200 } });
      reflector.start();
      await reflector.synced;
      expect(heldUntilAsked).toBe(true);
      expect(names(reflector)).toEqual(['a', 'b', 'c']);
      await reflector.stop();
      reflector = undefined;
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a list that stalls mid-body is abandoned after the idle timeout and retried', async () => {
    const { api, errors, r } = await start({ idleTimeoutMs: 300 });
    api.upsert(svc('a'));
    api.stallNextList('Service');
    r.start();
    await r.synced;
    expect(errors).toEqual(['timeout']);
    expect(names(r)).toEqual(['a']);
  });

  it('logs a failure episode once, then only at a low rate, and says when it is over', async () => {
    const { api, logs, r } = await start({ remindEveryMs: 60_000 });
    api.upsert(svc('a'));
    api.failNext('Service', 'list', 500, 6);
    r.start();
    await r.synced;
    await until(() => logs.some((l) => l.level === 'info'));
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['list/watch failed; retrying with backoff (logged again only while it lasts, at a low rate)']);
    expect(logs.filter((l) => l.level === 'debug')).toHaveLength(5);
    expect(logs.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual(['list/watch recovered']);
  });

  it('treats an optional resource the API does not serve (404) as synced and empty', async () => {
    api = await startFakeApiServer({ host: '127.0.0.1', token: 'secret' });
    reflector = new Reflector({ kc: kubeconfig(api.url), path: '/apis/networking.k8s.io/v1/nosuchresource', onEvent: () => {}, optional: true, backoffMs: { initial: 20, max: 200 } });
    reflector.start();
    await reflector.synced;
    expect([...reflector.keys()]).toEqual([]);
  });

  it('stop() ends everything without an error and makes no more requests', async () => {
    const { api, r } = await start();
    r.start();
    await r.synced;
    await r.stop();
    const n = api.requests.length;
    api.upsert(svc('late'));
    await new Promise((res) => setTimeout(res, 200));
    expect(api.requests.length).toBe(n);
    reflector = undefined;
  });
});
