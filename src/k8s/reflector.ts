// List+watch for one resource, closing the gaps of client-node's informer:
// any failure is retried with jittered backoff (never a silent stop; a
// Retry-After is honoured), counted by kind, and logged once per episode;
// watches ask for bookmarks and a server timeout, a silent connection is
// abandoned after an idle timeout, a 410 or a malformed event relists, and a
// relist replaces the cache with only the real differences (no burst of
// deletes). `synced` resolves once the first complete list has been
// delivered. Objects are handed on, not kept: the cache holds each key's
// resourceVersion, all a relist needs to diff against.
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { ListFormatError, ListScanner } from './list-scanner.js';

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
  readonly log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly onRelist?: () => void;
  /** A list or watch failed and will be retried (or relisted): why, as a fixed category. */
  readonly onError?: (reason: FailureReason, error: Error) => void;
  /** How often a failure episode that goes on is logged again (default 5 minutes). */
  readonly remindEveryMs?: number;
  /** Keys whose pairs are cut out of listed objects before they are parsed: fields the caller never reads. */
  readonly ignoredKeys?: ReadonlySet<string>;
  /** The API may not serve this resource (404): then it counts as synced and empty, and is looked for again later. */
  readonly optional?: boolean;
}

class HttpError extends Error {
  constructor(readonly code: number, message: string, readonly retryAfterMs = 0) {
    super(message);
  }
}

/** A watch event or list that cannot be read: our position in the stream is unknown, so relist. */
class MalformedError extends Error {}

export type FailureReason = 'http_429' | 'http_5xx' | 'http_4xx' | 'gone' | 'malformed' | 'timeout' | 'connection';

const NO_KEYS: ReadonlySet<string> = new Set();
const GONE = 410;
const NOT_FOUND = 404;
/** A Retry-After longer than this is not waited out in full: the API may well be back sooner. */
const MAX_RETRY_AFTER_MS = 120_000;

export class Reflector {
  /** Key ("ns/name") -> resourceVersion of every object delivered and not deleted. */
  private readonly cache = new Map<string, string>();
  private rv = '';
  private stopped = false;
  /** Requests under way (a list reads one page while asking for the next): a stop ends them all. */
  private readonly requests = new Set<http.ClientRequest>();
  private wake: (() => void) | undefined;
  private resolveSynced!: () => void;
  /** Resolves once the first full list has been applied. */
  readonly synced = new Promise<void>((r) => (this.resolveSynced = r));
  private hasSyncedOnce = false;
  private loop: Promise<void> | undefined;
  /** The failures since the last success: logged once when they start, then at a low rate. */
  private episode: { since: number; failures: number; lastError: string; remindAt: number } | undefined;
  /** The next retry's backoff; back to the initial one as soon as the server answers well again. */
  private delay = 0;

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
    for (const req of this.requests) req.destroy();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { initial, max } = this.opts.backoffMs ?? { initial: 500, max: 30_000 };
    this.delay = initial;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.list();
          needList = false;
          this.recovered();
        }
        // A clean end: resume from the last resourceVersion, at once unless the watch was empty
        // (a server or proxy that closes watches at once must not make this spin).
        if (!(await this.watch())) await this.sleep(initial);
        continue;
      } catch (e) {
        if (this.stopped) break;
        const err = e as Error;
        if (this.opts.optional && err instanceof HttpError && err.code === NOT_FOUND) {
          this.markSynced();
          this.opts.log?.('info', 'resource not served by this API server; treated as empty', { path: this.opts.path });
          await this.sleep(max);
          continue;
        }
        const reason = failureReason(err);
        this.opts.onError?.(reason, err);
        if (reason === 'gone') {
          needList = true; // our resourceVersion is too old: relist, no backoff needed
          this.opts.log?.('info', 'resourceVersion expired, relisting', { path: this.opts.path });
          continue;
        }
        if (reason === 'malformed') needList = true; // where we are in the stream is unknown: the list is the truth
        const wait = Math.max(this.delay * (0.5 + Math.random() / 2), err instanceof HttpError ? Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) : 0);
        this.failed(reason, err, wait);
        await this.sleep(wait);
        this.delay = Math.min(max, this.delay * 2);
        if (this.rv === '') needList = true;
      }
    }
  }

  /** Logs the first failure of an episode, then a reminder at a low rate; the rest at debug level. */
  private failed(reason: FailureReason, err: Error, retryInMs: number): void {
    const now = Date.now();
    const fields = { path: this.opts.path, reason, error: err.message, retryInMs: Math.round(retryInMs) };
    if (!this.episode) {
      this.episode = { since: now, failures: 1, lastError: err.message, remindAt: now + (this.opts.remindEveryMs ?? 300_000) };
      this.opts.log?.('warn', 'list/watch failed; retrying with backoff (logged again only while it lasts, at a low rate)', fields);
      return;
    }
    this.episode.failures++;
    this.episode.lastError = err.message;
    if (now < this.episode.remindAt) return this.opts.log?.('debug', 'list/watch failed again', fields);
    this.episode.remindAt = now + (this.opts.remindEveryMs ?? 300_000);
    this.opts.log?.('warn', 'list/watch still failing', { ...fields, failures: this.episode.failures, sinceMs: now - this.episode.since });
  }

  private recovered(): void {
    this.delay = (this.opts.backoffMs ?? { initial: 500 }).initial;
    if (!this.episode) return;
    this.opts.log?.('info', 'list/watch recovered', { path: this.opts.path, failures: this.episode.failures, afterMs: Date.now() - this.episode.since, lastError: this.episode.lastError });
    this.episode = undefined;
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
   * only for differences. Each object is delivered as soon as its bytes have
   * arrived (list-scanner.ts), so no page is ever held whole; what the list
   * lacks is deleted at the end. The next page is asked for as soon as this
   * one's continue token has arrived (an API server writes the list's
   * metadata before its items): the server prepares it while this page is
   * read, instead of the two taking turns.
   */
  private async list(): Promise<void> {
    const seen = new Set<string>();
    const limit = String(this.opts.pageSize ?? 500);
    let next: Promise<http.IncomingMessage> | undefined = this.request(this.query({ limit }));
    let rv = '';
    try {
      while (next) {
        const res = await next;
        next = undefined;
        const metadata = await this.listPage(res, (item) => {
          const o = this.typed(checkObject(item, `list ${this.opts.path}`));
          const k = keyOf(o);
          seen.add(k);
          const old = this.cache.get(k);
          if (old === undefined) this.apply('ADDED', o);
          else if (old !== rvOf(o)) this.apply('MODIFIED', o);
        }, (meta) => {
          const cont = typeof meta.continue === 'string' ? meta.continue : '';
          if (cont === '' || next) return;
          next = this.request(this.query({ limit, continue: cont }));
          next.catch(() => {}); // awaited in turn; until then its failure is not yet ours to handle
        });
        rv = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : rv;
      }
    } catch (e) {
      void next?.then((r) => r.destroy(), () => {});
      throw e;
    }
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
    if (res.statusCode !== 200) throw new HttpError(res.statusCode ?? 0, `watch ${this.opts.path}: HTTP ${res.statusCode} ${(await readAll(res)).slice(0, 300)}`, retryAfterMs(res));
    let progressed = false;
    const what = `watch ${this.opts.path}`;
    // Events are read as lists are (list-scanner.ts): the keys svcrouter never reads are cut before parsing.
    const events = ListScanner.events((ev) => {
      this.handle(ev as { type: unknown; object: unknown });
      if (!progressed) this.recovered();
      progressed = true;
    }, this.opts.ignoredKeys ?? NO_KEYS);
    const idleMs = this.opts.idleTimeoutMs ?? 90_000;
    await new Promise<void>((resolve, reject) => {
      let idle = setTimeout(onIdle, idleMs);
      function onIdle() {
        res.destroy(new StallError(`watch idle for ${idleMs} ms`));
      }
      res.on('data', (chunk: Buffer) => {
        clearTimeout(idle);
        idle = setTimeout(onIdle, idleMs);
        try {
          events.push(chunk);
        } catch (e) {
          res.destroy(e instanceof ListFormatError ? new MalformedError(`${what}: ${e.message}`) : (e as Error));
        }
      });
      res.on('end', () => {
        clearTimeout(idle);
        try {
          events.end();
          resolve();
        } catch {
          reject(new MalformedError(`${what}: the stream ended inside an event`));
        }
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

  private handle(ev: { type: unknown; object: unknown }): void {
    const what = `watch ${this.opts.path}`;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED': {
        const o = this.typed(checkObject(ev.object, what));
        this.apply(ev.type, o);
        this.rv = rvOf(o) || this.rv;
        return;
      }
      case 'BOOKMARK':
        this.rv = rvOf(ev.object as Obj) || this.rv;
        return;
      case 'ERROR': {
        const status = (ev.object ?? {}) as { code?: number; message?: string };
        throw new HttpError(status.code ?? 0, `${what}: ${status.message ?? 'error event'}`);
      }
      default:
        throw new MalformedError(`${what}: unknown event type ${JSON.stringify(ev.type)}`);
    }
  }

  private query(extra: Record<string, string>): URLSearchParams {
    const q = new URLSearchParams();
    if (this.opts.labelSelector) q.set('labelSelector', this.opts.labelSelector);
    if (this.opts.fieldSelector) q.set('fieldSelector', this.opts.fieldSelector);
    for (const [k, v] of Object.entries(extra)) if (v !== '') q.set(k, v);
    return q;
  }

  /** One page of a list: each item to `onItem` as it arrives, its metadata to `onMetadata` as soon as it has; resolves with the metadata. */
  private async listPage(res: http.IncomingMessage, onItem: (item: Obj) => void, onMetadata: (metadata: Obj) => void): Promise<Obj> {
    // A list that stops sending must not hold up the first sync forever.
    res.setTimeout(this.opts.idleTimeoutMs ?? 90_000, () => res.destroy(new StallError(`list ${this.opts.path}: no data for a while`)));
    if (res.statusCode !== 200) throw new HttpError(res.statusCode ?? 0, `list ${this.opts.path}: HTTP ${res.statusCode} ${(await readAll(res)).slice(0, 300)}`, retryAfterMs(res));
    const scanner = new ListScanner(onItem, this.opts.ignoredKeys ?? NO_KEYS, onMetadata);
    try {
      for await (const chunk of res) scanner.push(chunk as Buffer);
      return scanner.end();
    } catch (e) {
      throw e instanceof ListFormatError ? new MalformedError(`list ${this.opts.path}: ${e.message}`) : e;
    }
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
      this.requests.add(req);
      req.on('close', () => this.requests.delete(req));
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new StallError('no response headers within 30 s')));
      req.on('response', () => req.setTimeout(0));
      req.end();
    });
  }
}

/** The server stopped sending. */
class StallError extends Error {}

function failureReason(err: Error): FailureReason {
  if (err instanceof MalformedError) return 'malformed';
  if (err instanceof StallError) return 'timeout';
  if (!(err instanceof HttpError)) return 'connection';
  if (err.code === GONE) return 'gone';
  if (err.code === 429) return 'http_429';
  return err.code >= 400 && err.code < 500 ? 'http_4xx' : 'http_5xx';
}

/** An object the reflector can key: anything else means the server's answer cannot be trusted. */
function checkObject(v: unknown, what: string): Obj {
  const m = (v as Obj | null)?.metadata;
  if (typeof v !== 'object' || v === null || typeof m !== 'object' || m === null || typeof m.name !== 'string' || m.name === '') {
    throw new MalformedError(`${what}: an object without metadata.name`);
  }
  return v as Obj;
}

/** Retry-After in seconds or as an HTTP date; 0 when absent. */
function retryAfterMs(res: http.IncomingMessage): number {
  const v = res.headers['retry-after'];
  if (!v) return 0;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** Joined, not templated: the cache keeps it, and a template literal's string is a tree of pieces. */
function keyOf(o: Obj): string {
  const m = o.metadata ?? {};
  return m.namespace ? [m.namespace, m.name].join('/') : String(m.name);
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
