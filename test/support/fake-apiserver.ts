// In-process fake kube-apiserver over real HTTP, for reflector/informer tests.
// It speaks the list/watch protocol client-go and client-node use. One global RV counter shared by
// all kinds, a bounded per-kind event history, selectors applied to lists and watch events,
// and failure injection (dropped/stalled watches, compacted history, HTTP errors).
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type Kind = 'Service' | 'EndpointSlice' | 'Node' | 'ServiceCIDR';
/** 'page': a list request that continues a paginated list. */
export type Verb = 'list' | 'watch' | 'page';

export interface LoggedRequest { method: string; path: string; query: Record<string, string>; headers: Record<string, string | undefined> }

export interface FakeApiServerOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0: any free port; restart() reuses the port actually bound
  token?: string; // if set, every request needs `Authorization: Bearer <token>` (else 401)
  bookmarkIntervalMs?: number; // BOOKMARKs to watches with allowWatchBookmarks=true (default 1000; 0 = never)
  historyLimit?: number; // events kept per kind; a watch from an older RV gets an in-stream 410 (default 1000)
  tls?: { key: string; cert: string }; // serve HTTPS with this key and certificate (PEM) instead of HTTP
}

export interface FakeApiServer {
  readonly url: string;
  readonly port: number;
  /** Create or replace (by kind/namespace/name; namespace defaults to 'default'); returns the new RV. */
  upsert(obj: Record<string, unknown>): string;
  /** Delete; watches get DELETED with the last state and the new RV (returned). Throws if absent. */
  remove(kind: Kind, namespace: string | undefined, name: string): string;
  get(kind: Kind, namespace: string | undefined, name: string): object | undefined;
  list(kind: Kind): object[];
  /** Destroy every open watch socket mid-stream (no terminating chunk). */
  dropWatches(): void;
  /** Open watches get nothing more (no events, bookmarks or timeout end) until dropped or stopped. */
  stallWatches(): void;
  /** Forget all history: watches from an RV below the current one get an in-stream 410; continue tokens expire. */
  compactHistory(): void;
  /** The next `times` (default 1) list, page or watch requests for `kind` fail with HTTP `status` and a Status body (and a Retry-After header, in seconds, if given). */
  failNext(kind: Kind, verb: Verb, status: number, times?: number, retryAfterSeconds?: number): void;
  /** The next list (or page) of `kind` sends its headers and half its body, then nothing more. */
  stallNextList(kind: Kind): void;
  /** Writes a raw line (a malformed or truncated event) to every open watch of `kind`; with `end`, ends those streams after it. */
  sendRawWatchLine(kind: Kind, line: string, end?: boolean): void;
  bookmarkNow(): void;
  /** Every request received, in order (also the rejected ones). */
  requests: LoggedRequest[];
  stop(): Promise<void>;
  restart(): Promise<void>;
}

interface Meta { name: string; namespace?: string; labels?: Record<string, string>; [field: string]: unknown }
type KObj = Record<string, unknown> & { metadata: Meta };
type Pred = (o: KObj) => boolean;
/** One change: obj is the new state (absent for a delete), prev the old state (absent for a create). */
interface Change { rv: number; obj?: KObj; prev?: KObj }
interface KindState { objects: Map<string, KObj>; history: Change[]; compacted: number }
interface WatchEvent { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: object }
interface Watch { kind: Kind; res: ServerResponse; filter: Pred; bookmarks: boolean; stalled: boolean; timer?: NodeJS.Timeout }

const KINDS: Record<Kind, { path: string; apiVersion: string; namespaced: boolean }> = {
  Service: { path: '/api/v1/services', apiVersion: 'v1', namespaced: true },
  EndpointSlice: { path: '/apis/discovery.k8s.io/v1/endpointslices', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
  Node: { path: '/api/v1/nodes', apiVersion: 'v1', namespaced: false },
  ServiceCIDR: { path: '/apis/networking.k8s.io/v1/servicecidrs', apiVersion: 'networking.k8s.io/v1', namespaced: false },
};
const KIND_NAMES = Object.keys(KINDS) as Kind[];
const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

class HttpError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A Kubernetes Status object, as sent in error responses and ERROR events. */
export function statusBody(code: number, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code };
}

interface Term { not: boolean; key: string; op?: string; value?: string }

function parseSelector(s: string | undefined, field: boolean): Term[] {
  const terms = (s ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  return terms.map((t) => {
    const m = /^(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*(.*))?$/.exec(t);
    const value = m?.[4]?.trim();
    const bad = !m || (m[1] && m[3]) || (field ? !m[3] : !/^[A-Za-z0-9_.-]*$/.test(value ?? ''));
    if (bad) throw new HttpError(400, `unable to parse ${field ? 'field' : 'label'} selector term "${t}"`);
    return { not: m[1] === '!', key: m[2], op: m[3], value };
  });
}

function termMatches(t: Term, actual: string | undefined): boolean {
  if (!t.op) return (actual !== undefined) !== t.not;
  return t.op === '!=' ? actual !== t.value : actual === t.value;
}

/** Value at a dotted path ('metadata.name', 'spec.nodeName'); '' when missing, like the API server. */
function fieldValue(o: KObj, path: string): string {
  const v = path.split('.').reduce<unknown>((acc, k) => (acc as Record<string, unknown> | undefined)?.[k], o);
  return v === undefined || v === null ? '' : String(v);
}

function makeFilter(query: Record<string, string>): Pred {
  const labels = parseSelector(query.labelSelector, false);
  const fields = parseSelector(query.fieldSelector, true);
  return (o) =>
    labels.every((t) => termMatches(t, o.metadata.labels?.[t.key])) && fields.every((t) => termMatches(t, fieldValue(o, t.key)));
}

function keyOf(kind: Kind, namespace: string | undefined, name: string): string {
  return `${KINDS[kind].namespaced ? (namespace ?? '') : ''}/${name}`;
}

/** List items carry no kind/apiVersion. */
function stripTypeMeta(o: KObj): object {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = o;
  return rest;
}

/** How one change looks to a watch with `filter` (DELETED when the object stops matching). */
function toEvent(c: Change, filter: Pred): WatchEvent | undefined {
  const cur = c.obj !== undefined && filter(c.obj);
  const old = c.prev !== undefined && filter(c.prev);
  if (cur) return { type: old ? 'MODIFIED' : 'ADDED', object: c.obj! };
  if (old) return { type: 'DELETED', object: { ...c.prev, metadata: { ...c.prev!.metadata, resourceVersion: String(c.rv) } } };
  return undefined;
}

function sendJSON(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

class Fake implements FakeApiServer {
  readonly requests: LoggedRequest[] = [];
  private rv = 0;
  private readonly kinds = Object.fromEntries(
    KIND_NAMES.map((k): [Kind, KindState] => [k, { objects: new Map(), history: [], compacted: 0 }]),
  ) as Record<Kind, KindState>;
  private readonly watches = new Set<Watch>();
  private readonly sockets = new Set<Socket>();
  private readonly failures = new Map<string, { status: number; times: number; retryAfterSeconds?: number }>();
  private readonly stalledLists = new Set<Kind>();
  private readonly continues = new Map<string, { kind: Kind; items: KObj[]; rv: number }>();
  private readonly server: ReturnType<typeof createServer>;
  private bookmarkTimer?: NodeJS.Timeout;
  url = '';

  constructor(private readonly host: string, public port: number, private readonly opts: FakeApiServerOptions) {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    this.server = opts.tls ? createTlsServer(opts.tls, handler) : createServer(handler);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  upsert(input: Record<string, unknown>): string {
    const kind = input.kind as Kind;
    if (!KIND_NAMES.includes(kind)) throw new Error(`fake apiserver: unsupported kind ${String(input.kind)}`);
    const obj = structuredClone(input) as KObj;
    const meta = (obj.metadata ??= { name: '' });
    if (!meta.name) throw new Error('fake apiserver: metadata.name is required');
    if (KINDS[kind].namespaced) meta.namespace ??= 'default';
    else delete meta.namespace;
    obj.apiVersion = KINDS[kind].apiVersion;
    const key = keyOf(kind, meta.namespace, meta.name);
    const prev = this.kinds[kind].objects.get(key);
    meta.uid = prev?.metadata.uid ?? meta.uid ?? randomUUID();
    meta.creationTimestamp = prev?.metadata.creationTimestamp ?? meta.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.commit(kind, key, obj, prev);
  }

  remove(kind: Kind, namespace: string | undefined, name: string): string {
    const key = keyOf(kind, namespace, name);
    const prev = this.kinds[kind].objects.get(key);
    if (!prev) throw new Error(`fake apiserver: ${kind} ${key} not found`);
    return this.commit(kind, key, undefined, prev);
  }

  get(kind: Kind, namespace: string | undefined, name: string): object | undefined {
    return structuredClone(this.kinds[kind].objects.get(keyOf(kind, namespace, name)));
  }

  list(kind: Kind): object[] {
    return [...this.kinds[kind].objects.values()].map((o) => structuredClone(o));
  }

  dropWatches(): void {
    for (const w of this.watches) w.res.socket?.destroy();
    this.watches.clear();
  }

  stallWatches(): void {
    for (const w of this.watches) {
      w.stalled = true;
      clearTimeout(w.timer);
    }
  }

  compactHistory(): void {
    for (const st of Object.values(this.kinds)) {
      st.history = [];
      st.compacted = this.rv;
    }
    this.continues.clear();
  }

  failNext(kind: Kind, verb: Verb, status: number, times = 1, retryAfterSeconds?: number): void {
    this.failures.set(`${kind}:${verb}`, { status, times, retryAfterSeconds });
  }

  stallNextList(kind: Kind): void {
    this.stalledLists.add(kind);
  }

  sendRawWatchLine(kind: Kind, line: string, end = false): void {
    for (const w of [...this.watches]) {
      if (w.kind !== kind || w.res.writableEnded) continue;
      w.res.write(line);
      if (end) {
        this.forget(w);
        w.res.end();
      }
    }
  }

  bookmarkNow(): void {
    for (const w of this.watches) {
      const object = { kind: w.kind, apiVersion: KINDS[w.kind].apiVersion, metadata: { resourceVersion: String(this.rv) } };
      if (w.bookmarks) this.send(w, { type: 'BOOKMARK', object });
    }
  }

  async start(): Promise<void> {
    this.server.listen(this.port, this.host);
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `${this.opts.tls ? 'https' : 'http'}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
    const every = this.opts.bookmarkIntervalMs ?? 1000;
    if (every > 0) this.bookmarkTimer = setInterval(() => this.bookmarkNow(), every).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of this.watches) clearTimeout(w.timer);
    this.watches.clear();
    const wasListening = this.server.listening;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    if (wasListening) await closed;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Record one change, trim history, fan it out to live watches. */
  private commit(kind: Kind, key: string, obj: KObj | undefined, prev: KObj | undefined): string {
    const st = this.kinds[kind];
    const rv = ++this.rv;
    if (obj) {
      obj.metadata.resourceVersion = String(rv);
      st.objects.set(key, obj);
    } else st.objects.delete(key);
    const change: Change = { rv, obj, prev };
    st.history.push(change);
    while (st.history.length > (this.opts.historyLimit ?? 1000)) st.compacted = st.history.shift()!.rv;
    for (const w of this.watches) if (w.kind === kind) this.send(w, toEvent(change, w.filter));
    return String(rv);
  }

  private send(w: Watch, ev: WatchEvent | undefined): void {
    if (ev && !w.stalled && !w.res.writableEnded) w.res.write(JSON.stringify(ev) + '\n');
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
    this.requests.push({ method: req.method ?? '', path: url.pathname, query, headers });
    try {
      const authorized = this.opts.token === undefined || req.headers.authorization === `Bearer ${this.opts.token}`;
      if (!authorized) throw new HttpError(401, 'Unauthorized');
      if (req.method !== 'GET') throw new HttpError(405, `method ${req.method} not allowed`);
      this.route(url.pathname, query, res);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, String(e));
      if (!res.headersSent) sendJSON(res, err.code, statusBody(err.code, err.message));
    }
  }

  private route(path: string, query: Record<string, string>, res: ServerResponse): void {
    const kind = KIND_NAMES.find((k) => KINDS[k].path === path);
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (node) {
      const o = this.kinds.Node.objects.get(keyOf('Node', undefined, decodeURIComponent(node[1])));
      if (!o) throw new HttpError(404, `nodes "${node[1]}" not found`);
      return sendJSON(res, 200, o);
    }
    if (!kind) throw new HttpError(404, `the server could not find the requested resource (${path})`);
    const verb: Verb = query.watch === 'true' || query.watch === '1' ? 'watch' : query.continue ? 'page' : 'list';
    const failure = this.failures.get(`${kind}:${verb}`);
    if (failure && failure.times-- > 0) {
      if (failure.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(failure.retryAfterSeconds));
      throw new HttpError(failure.status, `injected failure for ${verb} ${kind}`);
    }
    if (verb === 'watch') this.watch(kind, query, res);
    else this.listPage(kind, query, res);
  }

  /** A list (page): a continue token holds a snapshot of the remaining items, at the first page's RV. */
  private listPage(kind: Kind, query: Record<string, string>, res: ServerResponse): void {
    const snap = query.continue ? this.continues.get(query.continue) : { kind, items: this.matching(kind, makeFilter(query)), rv: this.rv };
    if (snap?.kind !== kind) throw new HttpError(410, 'The provided continue parameter is too old to display a consistent list result.');
    const limit = Number(query.limit) > 0 ? Number(query.limit) : snap.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snap.rv) };
    if (limit < snap.items.length) {
      const token = randomBytes(12).toString('base64url');
      this.continues.set(token, { ...snap, items: snap.items.slice(limit) });
      Object.assign(metadata, { continue: token, remainingItemCount: snap.items.length - limit });
    }
    const items = snap.items.slice(0, limit).map(stripTypeMeta);
    const body = { kind: `${kind}List`, apiVersion: KINDS[kind].apiVersion, metadata, items };
    if (this.stalledLists.delete(kind)) {
      const text = JSON.stringify(body);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.write(text.slice(0, text.length >> 1));
    }
    sendJSON(res, 200, body);
  }

  /** Current objects of `kind` passing `filter`, in namespace/name order (like etcd keys). */
  private matching(kind: Kind, filter: Pred): KObj[] {
    return [...this.kinds[kind].objects.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, o]) => o).filter(filter);
  }

  private watch(kind: Kind, query: Record<string, string>, res: ServerResponse): void {
    const filter = makeFilter(query);
    const from = Number(query.resourceVersion ?? 0); // 0 (or absent): start now, no replay
    if (!Number.isSafeInteger(from) || from < 0) throw new HttpError(400, `invalid resourceVersion "${query.resourceVersion}"`);
    const st = this.kinds[kind];
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (from > 0 && from < st.compacted) {
      const status = statusBody(410, `too old resource version: ${from} (${st.compacted + 1})`);
      return void res.end(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
    }
    const w: Watch = { kind, res, filter, bookmarks: query.allowWatchBookmarks === 'true', stalled: false };
    this.watches.add(w);
    res.on('close', () => this.forget(w));
    if (from > 0) for (const c of st.history) if (c.rv > from) this.send(w, toEvent(c, filter));
    const timeout = Number(query.timeoutSeconds);
    if (timeout > 0) {
      w.timer = setTimeout(() => {
        this.forget(w);
        res.end();
      }, timeout * 1000);
    }
  }

  private forget(w: Watch): void {
    clearTimeout(w.timer);
    this.watches.delete(w);
  }
}

/** Start a fake API server; stop() it in afterAll/afterEach. */
export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const fake = new Fake(opts.host ?? '127.0.0.1', opts.port ?? 0, opts);
  await fake.start();
  return fake;
}
