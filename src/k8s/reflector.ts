// List+watch for one resource, closing the gaps of client-node's informer:
// any failure is retried with jittered backoff (never a silent stop), watches
// ask for bookmarks and a server timeout, a silent connection is abandoned
// after an idle timeout, a 410 relists, and a relist replaces the cache with
// only the real differences (no burst of deletes). `synced` resolves once the
// first complete list has been delivered. Objects are handed on, not kept: the
// cache holds each key's resourceVersion, all a relist needs to diff against.
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type Obj = Record<string, any>;
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
/** A DELETED object from a relist carries only its metadata (namespace, name, resourceVersion). */
export type Handler = (type: EventType, obj: Obj) => void;

export interface ReflectorOptions {
  readonly kc: KubeConfig;
  /** Collection path, e.g. "/api/v1/services". */
  readonly path: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly onEvent: Handler;
  /** Called on every object before it is handed on (list items carry no kind). */
  readonly typed?: (o: Obj) => Obj;
  readonly pageSize?: number;
  /** Abandon a watch that sends nothing (not even a bookmark) for this long. */
  readonly idleTimeoutMs?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  readonly log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly onRelist?: () => void;
  readonly onRestart?: () => void;
  /** The API may not serve this resource (404): then it counts as synced and empty, and is looked for again later. */
  readonly optional?: boolean;
}

class HttpError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const GONE = 410;
const NOT_FOUND = 404;

export class Reflector {
  /** Key ("ns/name") -> resourceVersion of every object delivered and not deleted. */
  private readonly cache = new Map<string, string>();
  private rv = '';
  private stopped = false;
  private current: http.ClientRequest | undefined;
  private wake: (() => void) | undefined;
  private resolveSynced!: () => void;
  /** Resolves once the first full list has been applied. */
  readonly synced = new Promise<void>((r) => (this.resolveSynced = r));
  private hasSyncedOnce = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: ReflectorOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  hasSynced(): boolean {
    return this.hasSyncedOnce;
  }

  /** The keys of the objects currently known. */
  keys(): IterableIterator<string> {
    return this.cache.keys();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.destroy();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { initial, max } = this.opts.backoffMs ?? { initial: 500, max: 30_000 };
    let delay = initial;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const progressed = await this.watch();
        if (progressed) delay = initial;
        // A clean end: resume from the last resourceVersion, at once unless the watch was empty
        // (a server or proxy that closes watches at once must not make this spin).
        else await this.sleep(initial);
        continue;
      } catch (e) {
        if (this.stopped) break;
        const err = e as Error & { code?: number };
        if (this.opts.optional && err instanceof HttpError && err.code === NOT_FOUND) {
          this.markSynced();
          this.opts.log?.('info', 'resource not served by this API server; treated as empty', { path: this.opts.path });
          await this.sleep(max);
          continue;
        }
        if (err instanceof HttpError && err.code === GONE) {
          needList = true; // our resourceVersion is too old: relist, no backoff needed
          this.opts.log?.('info', 'resourceVersion expired, relisting', { path: this.opts.path });
          continue;
        }
        this.opts.onRestart?.();
        this.opts.log?.('warn', 'list/watch failed, retrying', { path: this.opts.path, error: err.message, retryInMs: delay });
        await this.sleep(delay * (0.5 + Math.random() / 2));
        delay = Math.min(max, delay * 2);
        if (this.rv === '') needList = true;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * A full, paginated list; then the cache is exactly that list, with events
   * only for differences. Each page is delivered as it arrives, so a large
   * list is never held whole; what it lacks is deleted at the end.
   */
  private async list(): Promise<void> {
    const seen = new Set<string>();
    let cont = '';
    let rv = '';
    do {
      const q = this.query({ limit: String(this.opts.pageSize ?? 500), ...(cont ? { continue: cont } : {}) });
      const body = JSON.parse(await this.get(q)) as { metadata?: { resourceVersion?: string; continue?: string }; items?: Obj[] };
      for (const item of body.items ?? []) {
        const o = this.typed(item);
        const k = keyOf(o);
        seen.add(k);
        const old = this.cache.get(k);
        if (old === undefined) this.apply('ADDED', o);
        else if (old !== rvOf(o)) this.apply('MODIFIED', o);
      }
      cont = body.metadata?.continue ?? '';
      rv = body.metadata?.resourceVersion ?? rv;
    } while (cont !== '');
    if (this.hasSyncedOnce) this.opts.onRelist?.();
    for (const [k, oldRv] of this.cache) if (!seen.has(k)) this.apply('DELETED', this.typed(stub(k, oldRv)));
    this.rv = rv;
    this.markSynced();
  }

  private typed(o: Obj): Obj {
    return this.opts.typed ? this.opts.typed(o) : o;
  }

  private markSynced(): void {
    if (this.hasSyncedOnce) return;
    this.hasSyncedOnce = true;
    this.resolveSynced();
  }

  private apply(type: EventType, o: Obj): void {
    const k = keyOf(o);
    if (type === 'DELETED') this.cache.delete(k);
    else this.cache.set(k, rvOf(o));
    this.opts.onEvent(type, o);
  }

  /** One watch until it ends; resolves true if anything arrived. Throws HttpError(410) when the RV expired. */
  private async watch(): Promise<boolean> {
    const timeout = 300 + Math.floor(Math.random() * 300); // as client-go: spread reconnects
    const q = this.query({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(timeout), resourceVersion: this.rv });
    const res = await this.request(q);
    if (res.statusCode !== 200) throw new HttpError(res.statusCode ?? 0, `watch ${this.opts.path}: HTTP ${res.statusCode} ${await readAll(res)}`);
    let progressed = false;
    let buffer = '';
    const idleMs = this.opts.idleTimeoutMs ?? 90_000;
    await new Promise<void>((resolve, reject) => {
      let idle = setTimeout(onIdle, idleMs);
      function onIdle() {
        res.destroy(new Error(`watch idle for ${idleMs} ms`));
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        clearTimeout(idle);
        idle = setTimeout(onIdle, idleMs);
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === '') continue;
          try {
            this.handle(JSON.parse(line) as { type: string; object: Obj });
            progressed = true;
          } catch (e) {
            res.destroy(e as Error);
            return;
          }
        }
      });
      res.on('end', () => {
        clearTimeout(idle);
        resolve();
      });
      res.on('error', (e) => {
        clearTimeout(idle);
        reject(e);
      });
      res.on('close', () => {
        clearTimeout(idle);
        if (!res.complete) reject(new Error(`watch ${this.opts.path}: connection closed mid-stream`));
      });
    });
    return progressed;
  }

  private handle(ev: { type: string; object: Obj }): void {
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        const o = this.typed(ev.object);
        this.apply(ev.type, o);
        this.rv = rvOf(o) || this.rv;
        return;
      }
      case 'BOOKMARK':
        this.rv = rvOf(ev.object) || this.rv;
        return;
      case 'ERROR': {
        const status = ev.object as { code?: number; message?: string };
        throw new HttpError(status.code ?? 0, `watch ${this.opts.path}: ${status.message ?? 'error event'}`);
      }
      default:
        throw new Error(`watch ${this.opts.path}: unknown event type ${JSON.stringify(ev.type)}`);
    }
  }

  private query(extra: Record<string, string>): URLSearchParams {
    const q = new URLSearchParams();
    if (this.opts.labelSelector) q.set('labelSelector', this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set('fieldSelector', this.opts.fieldSelector);
    for (const [k, v] of Object.entries(extra)) if (v !== '') q.set(k, v);
    return q;
  }

  private async get(q: URLSearchParams): Promise<string> {
    const res = await this.request(q);
    // A list that stops sending must not hold up the first sync forever.
    res.setTimeout(this.opts.idleTimeoutMs ?? 90_000, () => res.destroy(new Error(`list ${this.opts.path}: no data for a while`)));
    const body = await readAll(res);
    if (res.statusCode !== 200) throw new HttpError(res.statusCode ?? 0, `list ${this.opts.path}: HTTP ${res.statusCode} ${body.slice(0, 300)}`);
    return body;
  }

  private async request(q: URLSearchParams): Promise<http.IncomingMessage> {
    const cluster = this.opts.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(`${cluster.server.replace(/\/$/, '')}${this.opts.path}?${q}`);
    const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.opts.kc.applyToHTTPSOptions(opts); // TLS, bearer/exec auth, in-cluster token
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(new Error('stopped'));
      const req = lib.request(url, opts, resolve);
      this.current = req;
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('no response headers within 30 s')));
      req.on('response', () => req.setTimeout(0));
      req.end();
    });
  }
}

function keyOf(o: Obj): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
}

/** What a relist knows of an object that has gone: its key and last resourceVersion. */
function stub(key: string, resourceVersion: string): Obj {
  const slash = key.indexOf('/');
  const name = key.slice(slash + 1);
  return { metadata: slash < 0 ? { name, resourceVersion } : { namespace: key.slice(0, slash), name, resourceVersion } };
}

function rvOf(o: Obj): string {
  return String(o.metadata?.resourceVersion ?? '');
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (s += c));
    res.on('end', () => resolve(s));
    res.on('error', reject);
  });
}
