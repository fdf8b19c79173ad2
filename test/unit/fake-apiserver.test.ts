// Tests of the fake kube-apiserver itself (test/support/fake-apiserver.ts), over real HTTP.
import { get, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from '../support/fake-apiserver.js';

const SVC = '/api/v1/services';

interface Event { type: string; object: any }
interface WatchConn {
  status: number;
  headers: IncomingHttpHeaders;
  events: Event[];
  /** 'end': the server finished the chunked body; 'abrupt': the connection died mid-stream. */
  done: Promise<'end' | 'abrupt'>;
  close(): void;
}

/** Opens a watch (or any GET) with node:http, collecting newline-delimited JSON events. */
function openWatch(url: string, headers: Record<string, string> = {}): Promise<WatchConn> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, agent: false }, (res) => {
      const events: Event[] = [];
      let buf = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          events.push(JSON.parse(buf.slice(0, i)) as Event);
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => (ended = true));
      res.on('error', () => {});
      const done = new Promise<'end' | 'abrupt'>((r) => res.on('close', () => r(ended ? 'end' : 'abrupt')));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, events, done, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function getJSON(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: await r.json() };
}

function svc(name: string, labels: Record<string, string> = {}, namespace = 'default', extra: object = {}) {
  return { kind: 'Service', metadata: { name, namespace, labels }, spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }, ...extra };
}

const waitEvents = (w: WatchConn, n: number) => vi.waitFor(() => expect(w.events).toHaveLength(n), { timeout: 3000, interval: 10 });
const names = (items: any[]) => items.map((i) => `${i.metadata.namespace ?? ''}/${i.metadata.name}`);

describe('fake apiserver', () => {
  let api: FakeApiServer;
  const watches: WatchConn[] = [];
  async function start(opts: FakeApiServerOptions = {}) {
    api = await startFakeApiServer({ bookmarkIntervalMs: 0, ...opts });
    return api;
  }
  async function watch(query: string, headers?: Record<string, string>) {
    const w = await openWatch(`${api.url}${SVC}?watch=true&${query}`, headers);
    watches.push(w);
    return w;
  }

  afterEach(async () => {
    for (const w of watches.splice(0)) w.close();
    await api?.stop();
  });

  it('lists with a global RV, items without type meta, and gets nodes by name', async () => {
    await start();
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
    expect(api.upsert(svc('b'))).toBe('1');
    expect(api.upsert(svc('a', {}, 'zz'))).toBe('2');
    expect(api.upsert({ kind: 'Node', metadata: { name: 'node-a', namespace: 'ignored' } })).toBe('3');
    expect(api.upsert(svc('b', { v: '2' }))).toBe('4');

    const { status, body } = await getJSON(api.url + SVC);
    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '4' } });
    expect(names(body.items)).toEqual(['default/b', 'zz/a']);
    const b = body.items[0];
    expect(b.kind).toBeUndefined();
    expect(b.apiVersion).toBeUndefined();
    expect(b.metadata).toMatchObject({ resourceVersion: '4', labels: { v: '2' }, uid: expect.any(String) });
    expect(b.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(b.metadata.uid).toBe((api.get('Service', 'default', 'b') as any).metadata.uid); // kept on update

    const eps = await getJSON(`${api.url}/apis/discovery.k8s.io/v1/endpointslices`);
    expect(eps.body).toMatchObject({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', items: [] });
    const cidrs = await getJSON(`${api.url}/apis/networking.k8s.io/v1/servicecidrs`);
    expect(cidrs.body).toMatchObject({ kind: 'ServiceCIDRList', apiVersion: 'networking.k8s.io/v1' });

    const node = await getJSON(`${api.url}/api/v1/nodes/node-a`);
    expect(node.body).toMatchObject({ kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-a', resourceVersion: '3' } });
    expect(node.body.metadata.namespace).toBeUndefined();
    const missing = await getJSON(`${api.url}/api/v1/nodes/nope`);
    expect(missing).toMatchObject({ status: 404, body: { kind: 'Status', code: 404, reason: 'NotFound' } });
    expect((await getJSON(`${api.url}/api/v1/pods`)).status).toBe(404);
    expect(api.list('Service')).toHaveLength(2);
  });

  it('paginates with limit/continue over a snapshot, and expires continue tokens', async () => {
    await start();
    for (const n of ['e', 'd', 'c', 'b', 'a']) api.upsert(svc(n));
    const p1 = await getJSON(`${api.url}${SVC}?limit=2`);
    expect(names(p1.body.items)).toEqual(['default/a', 'default/b']);
    expect(p1.body.metadata).toMatchObject({ resourceVersion: '5', continue: expect.any(String), remainingItemCount: 3 });

    api.upsert(svc('0-new')); // not in the snapshot the token refers to
    const tok = encodeURIComponent(p1.body.metadata.continue);
    const p2 = await getJSON(`${api.url}${SVC}?limit=2&continue=${tok}`);
    expect(names(p2.body.items)).toEqual(['default/c', 'default/d']);
    expect(p2.body.metadata.resourceVersion).toBe('5');
    const p3 = await getJSON(`${api.url}${SVC}?limit=2&continue=${encodeURIComponent(p2.body.metadata.continue)}`);
    expect(names(p3.body.items)).toEqual(['default/e']);
    expect(p3.body.metadata.continue).toBeUndefined();

    const bogus = await getJSON(`${api.url}${SVC}?limit=2&continue=bogus`);
    expect(bogus).toMatchObject({ status: 410, body: { kind: 'Status', code: 410, reason: 'Expired' } });
    api.compactHistory();
    expect((await getJSON(`${api.url}${SVC}?limit=2&continue=${tok}`)).status).toBe(410);
  });

  it('watch replays history strictly after the RV, then streams live; RV 0/absent starts now', async () => {
    await start();
    api.upsert(svc('a')); // 1
    api.upsert(svc('b')); // 2
    api.upsert(svc('a', { x: 'y' })); // 3
    api.remove('Service', 'default', 'b'); // 4
    const fromNow = await watch('resourceVersion=0');
    const noRV = await watch('');
    const w = await watch('resourceVersion=1');
    expect(w.status).toBe(200);
    expect(w.headers['transfer-encoding']).toBe('chunked');
    await waitEvents(w, 3);
    expect(w.events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion])).toEqual([
      ['ADDED', 'b', '2'],
      ['MODIFIED', 'a', '3'],
      ['DELETED', 'b', '4'],
    ]);
    expect(w.events[0].object).toMatchObject({ kind: 'Service', apiVersion: 'v1' });

    api.upsert(svc('c')); // 5
    await waitEvents(w, 4);
    expect(w.events[3]).toMatchObject({ type: 'ADDED', object: { kind: 'Service', metadata: { name: 'c', resourceVersion: '5' } } });
    await waitEvents(fromNow, 1);
    await waitEvents(noRV, 1);
    expect(fromNow.events[0].object.metadata.name).toBe('c');

    api.upsert({ kind: 'Node', metadata: { name: 'n' } }); // other kinds are not sent
    await sleep(100);
    expect(w.events).toHaveLength(4);
    expect((await getJSON(`${api.url}${SVC}?watch=1&resourceVersion=abc`)).status).toBe(400);
  });

  it('label selectors filter lists and watches; an object that stops matching is DELETED', async () => {
    await start();
    api.upsert(svc('plain'));
    api.upsert(svc('web', { app: 'web' }));
    api.upsert(svc('db', { app: 'db', tier: 'x' }));
    const list = async (sel: string) => names((await getJSON(`${api.url}${SVC}?labelSelector=${encodeURIComponent(sel)}`)).body.items);
    expect(await list('app')).toEqual(['default/db', 'default/web']);
    expect(await list('!app')).toEqual(['default/plain']);
    expect(await list('app=web')).toEqual(['default/web']);
    expect(await list('app==db')).toEqual(['default/db']);
    expect(await list('app!=web')).toEqual(['default/db', 'default/plain']);
    expect(await list('app, !tier')).toEqual(['default/web']);
    expect((await getJSON(`${api.url}${SVC}?labelSelector=${encodeURIComponent('a=b=c')}`)).status).toBe(400);

    const w = await watch(`labelSelector=${encodeURIComponent('app=web,!service.kubernetes.io/headless')}`);
    api.upsert(svc('web', { app: 'web', v: '2' })); // MODIFIED
    api.upsert(svc('web', { app: 'other' })); // stops matching: DELETED with the old content, new RV
    api.upsert(svc('web', { app: 'web' })); // matches again: ADDED
    api.upsert(svc('web', { app: 'web', 'service.kubernetes.io/headless': '' })); // DELETED
    api.upsert(svc('db', { app: 'db' })); // never matched: nothing
    api.remove('Service', 'default', 'web'); // already not matching: nothing
    await waitEvents(w, 4);
    await sleep(50);
    expect(w.events.map((e) => [e.type, e.object.metadata.resourceVersion, e.object.metadata.labels.app])).toEqual([
      ['MODIFIED', '4', 'web'],
      ['DELETED', '5', 'web'],
      ['ADDED', '6', 'web'],
      ['DELETED', '7', 'web'],
    ]);
  });

  it('field selectors on metadata.name / metadata.namespace filter lists and watches', async () => {
    await start();
    api.upsert(svc('a', {}, 'ns1'));
    api.upsert(svc('a', {}, 'ns2'));
    api.upsert(svc('b', {}, 'ns2'));
    const list = async (sel: string) => names((await getJSON(`${api.url}${SVC}?fieldSelector=${encodeURIComponent(sel)}`)).body.items);
    expect(await list('metadata.name=a')).toEqual(['ns1/a', 'ns2/a']);
    expect(await list('metadata.namespace=ns2,metadata.name!=a')).toEqual(['ns2/b']);
    expect(await list('metadata.namespace==ns1')).toEqual(['ns1/a']);

    const w = await watch('fieldSelector=metadata.namespace%3Dns2&resourceVersion=1');
    await waitEvents(w, 2);
    api.upsert(svc('c', {}, 'ns1'));
    api.upsert(svc('c', {}, 'ns2'));
    await waitEvents(w, 3);
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`)).toEqual([
      'ADDED ns2/a',
      'ADDED ns2/b',
      'ADDED ns2/c',
    ]);
  });

  it('sends bookmarks periodically and on demand, only to watches that asked', async () => {
    await start({ bookmarkIntervalMs: 100 });
    api.upsert(svc('a'));
    const withBm = await watch('allowWatchBookmarks=true');
    const without = await watch('');
    await waitEvents(withBm, 2);
    expect(withBm.events[0]).toEqual({ type: 'BOOKMARK', object: { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: '1' } } });
    api.upsert({ kind: 'EndpointSlice', metadata: { name: 'a-1' } }); // the global RV moves on
    api.bookmarkNow();
    await vi.waitFor(() => expect(withBm.events.at(-1)!.object.metadata.resourceVersion).toBe('2'));
    expect(without.events).toEqual([]);
  });

  it('a watch from a compacted RV gets an in-stream 410 ERROR, then a clean end', async () => {
    await start({ historyLimit: 2 });
    for (let i = 0; i < 4; i++) api.upsert(svc(`s${i}`)); // RVs 1..4; history keeps 3, 4
    const old = await watch('resourceVersion=1');
    expect(old.status).toBe(200);
    expect(await old.done).toBe('end');
    expect(old.events).toEqual([
      {
        type: 'ERROR',
        object: expect.objectContaining({ kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message: expect.stringContaining('too old resource version: 1') }),
      },
    ]);
    const ok = await watch('resourceVersion=2');
    await waitEvents(ok, 2);
    expect(ok.events.map((e) => e.object.metadata.name)).toEqual(['s2', 's3']);

    api.compactHistory();
    expect(await (await watch('resourceVersion=3')).done).toBe('end');
    const current = await watch('resourceVersion=4'); // nothing was missed
    api.upsert(svc('s4'));
    await waitEvents(current, 1);
    expect(current.events[0].type).toBe('ADDED');
  });

  it('failNext answers list or watch with an HTTP error and a Status body, N times', async () => {
    await start();
    api.failNext('Service', 'list', 500, 2);
    api.failNext('Service', 'watch', 429);
    for (let i = 0; i < 2; i++) {
      expect(await getJSON(api.url + SVC)).toMatchObject({ status: 500, body: { kind: 'Status', code: 500, reason: 'InternalError' } });
    }
    expect((await getJSON(api.url + SVC)).status).toBe(200);
    expect((await getJSON(`${api.url}/api/v1/nodes`)).status).toBe(200); // other kinds unaffected
    const w = await watch('');
    expect(w.status).toBe(429);
    expect(await w.done).toBe('end');
    expect((await watch('')).status).toBe(200);
  });

  it('dropWatches kills watch connections mid-stream; new watches work', async () => {
    await start();
    const w = await watch('');
    api.upsert(svc('a'));
    await waitEvents(w, 1);
    api.dropWatches();
    expect(await w.done).toBe('abrupt');
    const again = await watch('resourceVersion=1');
    api.upsert(svc('b'));
    await waitEvents(again, 1);
  });

  it('stallWatches keeps connections open but silent (no events, bookmarks or timeout end)', async () => {
    await start({ bookmarkIntervalMs: 50 });
    const w = await watch('allowWatchBookmarks=true&timeoutSeconds=1');
    api.stallWatches();
    const before = w.events.length;
    api.upsert(svc('a'));
    const outcome = await Promise.race([w.done, sleep(1500, 'open')]);
    expect(outcome).toBe('open');
    expect(w.events).toHaveLength(before);
    const fresh = await watch('');
    api.upsert(svc('b'));
    await waitEvents(fresh, 1);
    api.dropWatches();
    expect(await w.done).toBe('abrupt');
  });

  it('timeoutSeconds ends a watch cleanly', async () => {
    await start();
    const t0 = Date.now();
    const w = await watch('timeoutSeconds=1');
    expect(await w.done).toBe('end');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('restart keeps objects and the RV counter on the same URL, and cuts watches', async () => {
    await start();
    api.upsert(svc('a'));
    api.upsert(svc('b'));
    const url = api.url;
    const w = await watch('');
    await api.restart();
    expect(await w.done).toBe('abrupt');
    expect(api.url).toBe(url);
    const { body } = await getJSON(url + SVC);
    expect(body.metadata.resourceVersion).toBe('2');
    expect(names(body.items)).toEqual(['default/a', 'default/b']);
    expect(api.upsert(svc('c'))).toBe('3');
    const resumed = await watch('resourceVersion=2');
    await waitEvents(resumed, 1);
    expect(resumed.events[0].object.metadata.name).toBe('c');
  });

  it('requires the bearer token when configured and logs every request', async () => {
    await start({ token: 's3cret' });
    const none = await getJSON(api.url + SVC);
    expect(none).toMatchObject({ status: 401, body: { kind: 'Status', code: 401, reason: 'Unauthorized' } });
    expect((await getJSON(api.url + SVC, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await watch('')).status).toBe(401);
    const ok = await getJSON(`${api.url}${SVC}?labelSelector=a%3Db&limit=5`, { Authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(api.requests).toHaveLength(4);
    expect(api.requests[3]).toMatchObject({
      method: 'GET',
      path: SVC,
      query: { labelSelector: 'a=b', limit: '5' },
      headers: { authorization: 'Bearer s3cret' },
    });
  });

  function kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }

  it('serves @kubernetes/client-node 1.4.0 (CoreV1Api list)', async () => {
    await start({ token: 't' });
    api.upsert(svc('a', { app: 'x' }));
    api.upsert(svc('b', {}, 'kube-system'));
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const all = await core.listServiceForAllNamespaces();
    expect(all.metadata?.resourceVersion).toBe('2');
    expect(all.items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`)).toEqual(['default/a', 'kube-system/b']);
    expect(all.items[0].spec?.clusterIP).toBe('10.96.0.10');
    const sel = await core.listServiceForAllNamespaces({ labelSelector: 'app=x' });
    expect(sel.items.map((s) => s.metadata?.name)).toEqual(['a']);
    expect(api.requests.at(-1)).toMatchObject({ path: SVC, query: { labelSelector: 'app=x' }, headers: { authorization: 'Bearer t' } });
  });

  it('drives a @kubernetes/client-node 1.4.0 informer (list, then watch events)', async () => {
    await start({ token: 't' });
    api.upsert(svc('a'));
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Service>(kc, SVC, () => core.listServiceForAllNamespaces());
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', () => {}); // stop() reports an AbortError
    await informer.start();
    try {
      api.upsert(svc('b'));
      api.upsert(svc('a', { x: '1' }));
      api.remove('Service', 'default', 'b');
      await vi.waitFor(() => expect(seen).toEqual(['add a', 'add b', 'update a', 'delete b']), { timeout: 3000 });
      expect(api.requests.map((r) => r.query.watch ?? 'list')).toEqual(['list', 'true']);
    } finally {
      await informer.stop();
    }
  });
});
