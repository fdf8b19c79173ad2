// The node agent: informers feed the state tracker and wake the scheduler;
// each sync decides again only the service ports that changed and commits one
// transaction: their plan, or a full render at start, after a failure and
// every sync period; then health, metrics, conntrack and health-check ports follow.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { startInformers, type Informers } from '../k8s/informers.js';
import { StateTracker } from '../state/tracker.js';
import { PolicyTable, type PolicyChange, type PortPolicy } from '../policy/port-policy.js';
import { staleUdpFlows } from '../policy/stale-flows.js';
import { NftInspector } from '../kernel/nftables/inspector.js';
import { TABLE } from '../backends/nftables/model.js';
import { TamperWatch } from './tamper-watch.js';
import type { Committed, DataPlane, SyncMode } from './data-plane.js';
import { NftablesPlane } from './nftables-plane.js';
import { deleteFlows } from '../kernel/conntrack.js';
import { formatIssue, type Issue } from '../state/issues.js';
import { SyncScheduler } from './scheduler.js';
import { ProxyHealth, nodeEligible, startProxyHealthServer } from './proxy-health.js';
import { ServiceHealthServers } from './service-health.js';
import { createMetrics, issueCategory, startMetricsServer } from './metrics.js';
import { ProgrammedView, traceHandler } from './trace-endpoint.js';
import { HeapCollector } from './heap-collector.js';

export interface AgentOptions {
  readonly cfg: Config;
  readonly kc: KubeConfig;
  readonly log: Logger;
}

export interface Agent {
  /** Resolves after the first successful commit. */
  readonly firstSync: Promise<void>;
  /** Stops watching and serving; the rules stay in the kernel. */
  stop(): Promise<void>;
}

/** kube-proxy's burstSyncs: syncs that may run back to back within --min-sync-period. */
const BURST_SYNCS = 2;

/** Trigger times waiting for a commit; bounded while syncs keep failing. */
const MAX_PENDING_TRIGGERS = 10_000;

/** While the first lists cannot be had, the agent says so again this often. */
const WAITING_REMINDER_MS = 60_000;

export async function startAgent({ cfg, kc, log }: AgentOptions): Promise<Agent> {
  const metrics = createMetrics();
  const health = new ProxyHealth({ healthTimeoutMs: 2 * cfg.syncPeriodMs });
  const closers: (() => Promise<void>)[] = [];
  const plane = await openPlane(cfg, openTamperWatch(log, () => metrics.tamperRestores.inc()), log);
  closers.push(() => plane.close());
  const programmed = new ProgrammedView(plane.virtualServers);
  if (cfg.metricsBindAddress) closers.push((await startMetricsServer(cfg.metricsBindAddress, metrics, cfg.mode, { '/trace': traceHandler(programmed, cfg) })).close);
  if (cfg.healthzBindAddress) {
    const server = await startProxyHealthServer(cfg.healthzBindAddress, health, (path, code) =>
      (path === '/healthz' ? metrics.healthzTotal : metrics.livezTotal).inc({ code: String(code) }));
    closers.push(server.close);
  }
  const serviceHealth = new ServiceHealthServers({ bindAddresses: [], proxyHealthy: () => health.isHealthy(), log: (m: string) => log.warn(m) });

  const tracker = new StateTracker({ nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  const policies = new PolicyTable();
  const heap = new HeapCollector();
  // Decisions changed since the last commit, by port: the committed one and the latest (for conntrack).
  let uncommitted = new Map<string, PolicyChange>();
  let committed = false;
  let replaceDue = false;
  let lastResourceVersion = '';
  let reassertDue = false;
  const agentStart = Date.now();
  const triggerTimes: number[] = [];
  let seenIssues = new Set<string>();
  let issuesSeen = -1;
  let issues: readonly Issue[] = [];
  let seenNotes = new Set<string>();
  let notesSeen = -1;
  let resolveFirst!: () => void;
  const firstSync = new Promise<void>((r) => (resolveFirst = r));
  // Every first list is complete: only then may anything be committed (kube-proxy's isInitialized).
  let listed = false;

  const sync = async (): Promise<boolean> => {
    // Whatever asked (the periodic resync, a retry, a signal), a view not fully seen is never
    // committed: until then the kernel keeps what a previous run left, untouched.
    if (!listed) return true;
    if (committed && !replaceDue) replaceDue = await plane.tampered();
    // The periodic resync reasserts only what someone else may have changed since our last commit.
    const mode: SyncMode = !committed || replaceDue ? 'replace' : reassertDue && !(await plane.unchanged()) ? 'reassert' : 'plan';
    reassertDue = false;
    const started = performance.now();
    const full = mode !== 'plan';
    const resourceVersion = lastResourceVersion;
    let applied: Committed;
    try {
      const changes = tracker.takeChanges();
      const state = tracker.state();
      if (tracker.issuesVersion !== issuesSeen) countIssues((issues = tracker.issues()));
      issuesSeen = tracker.issuesVersion;
      if (tracker.notesVersion !== notesSeen) {
        seenNotes = onlyNew(tracker.notes(), seenNotes, (line) => log.warn(`object programmed as kube-proxy reads it: ${line}`));
        notesSeen = tracker.notesVersion;
      }
      const decided = policies.update(state, changes.ports);
      for (const c of decided) uncommitted.set(c.id, { ...c, before: uncommitted.get(c.id)?.before ?? c.before });
      applied = await plane.commit(mode, { state, decided, base: changes.base, all: () => policies.all() });
      programmed.commit(uncommitted.values(), state, issues);
    } catch (e) {
      replaceDue = true; // the kernel may differ from what we believe: take it over whole
      plane.failed();
      metrics.syncFailures.inc();
      metrics.syncTotal.inc({ kind: full ? 'full' : 'partial', result: 'failure' });
      log.error({ err: (e as Error).message, mode }, 'sync failed; a full resync follows');
      return false;
    }
    const seconds = (performance.now() - started) / 1000;
    // Not on the first commit: entries from before a restart were made by equivalent
    // rules, and treating every UDP service as newly served would flush them all.
    const stale = committed ? staleUdpFlows(uncommitted.values()) : [];
    uncommitted = new Map();
    committed = true;
    replaceDue = false;
    recordSuccess(seconds, full, applied);
    await serviceHealth.sync(healthTargets(policies.withHealthCheck()));
    const round = (x: number) => Number(x.toFixed(2));
    log.info({
      mode, seconds: Number(seconds.toFixed(4)), computeMs: round(applied.computeMs), renderMs: round(applied.renderMs), commitMs: round(applied.commitMs),
      bytes: applied.bytes, operations: applied.operations, transactions: applied.transactions, servicePorts: policies.size, staleFlows: stale.length, lastResourceVersion: resourceVersion,
    }, 'synced');
    resolveFirst();
    if (mode === 'replace') heap.rewritten();
    else if (mode === 'plan' && applied.operations > 0) heap.changed();
    // Housekeeping after the rules are in, as kube-proxy: the `conntrack` tool takes a process
    // start per filter, which is no part of the time until traffic follows the change.
    await deleteFlows(stale).catch((e: Error) => log.warn({ err: e.message }, 'conntrack cleanup failed'));
    if (mode === 'replace') await plane.afterReplace?.(() => policies.all()).catch((e: Error) => log.warn({ err: e.message }, 'conntrack cleanup failed'));
    return true;
  };

  const scheduler = new SyncScheduler({ minIntervalMs: cfg.minSyncPeriodMs, burst: BURST_SYNCS, retryMs: { initial: 1000, max: 30_000 }, run: sync });

  const waiting = waitForFirstLists(log, () => informers.pending());
  const informers: Informers = startInformers(kc, cfg.hostname, {
    onChange(resource, type, obj) {
      if (type === 'DELETED') tracker.remove(obj);
      else tracker.upsert('api', obj);
      lastResourceVersion = obj.metadata?.resourceVersion ?? lastResourceVersion;
      if (resource === 'nodes') health.setNodeEligible(nodeEligible(type === 'DELETED' ? undefined : obj));
      if (resource === 'endpointslices') {
        metrics.endpointChanges.inc();
        metrics.endpointChangesPending.inc();
        // As kube-proxy: only changes made since this agent started, and not deletions.
        const t = Date.parse(obj.metadata?.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'] ?? '');
        if (type !== 'DELETED' && t >= agentStart && triggerTimes.length < MAX_PENDING_TRIGGERS) triggerTimes.push(t);
      }
      if (resource === 'services') {
        metrics.serviceChanges.inc();
        metrics.serviceChangesPending.inc();
      }
      // As kube-proxy's Sync(): changes are queued (for health too) once every first list is in.
      if (!listed) return;
      metrics.lastQueuedTimestamp.setToCurrentTime();
      health.queuedUpdate();
      scheduler.request();
    },
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
    onRelist: (r) => metrics.informerRelists.inc({ resource: r }),
    onError: (resource, reason, error) => {
      metrics.apiErrors.inc({ resource, reason });
      if (!listed) waiting.failed(resource, error);
    },
  });
  void informers.synced.then(() => {
    listed = true;
    waiting.done();
    log.info('caches synced; programming');
    scheduler.request();
  });
  const resync = setInterval(() => {
    reassertDue = true;
    scheduler.request();
  }, cfg.syncPeriodMs);
  const stopWatching = plane.watch(() => scheduler.request());

  function recordSuccess(seconds: number, full: boolean, applied: Committed): void {
    metrics.endpointChangesPending.set(0);
    metrics.serviceChangesPending.set(0);
    const noLocal = policies.noLocalEndpoints();
    metrics.noLocalEndpoints.set({ traffic_policy: 'internal' }, noLocal.internal);
    metrics.noLocalEndpoints.set({ traffic_policy: 'external' }, noLocal.external);
    (full ? metrics.syncFullDuration : metrics.syncPartialDuration).observe(seconds);
    metrics.syncDuration.observe(seconds);
    metrics.syncTotal.inc({ kind: full ? 'full' : 'partial', result: 'success' });
    metrics.transactionBytes.observe(applied.bytes);
    metrics.transactionOperations.observe(applied.operations);
    metrics.lastSyncTimestamp.setToCurrentTime();
    const now = Date.now();
    for (const t of triggerTimes.splice(0)) metrics.networkProgrammingDuration.observe(Math.max(0, now - t) / 1000);
    health.updated();
  }

  /** Logs and counts each problem once while it lasts; one that goes and comes back is reported again. */
  function countIssues(issues: readonly Issue[]): void {
    const byLine = new Map(issues.map((i) => [formatIssue(i), i]));
    seenIssues = onlyNew(byLine.keys(), seenIssues, (line) => {
      const i = byLine.get(line)!;
      metrics.objectsInvalid.inc({ kind: i.object.split(' ')[0] ?? 'object', reason: issueCategory(i.field, i.reason) });
      log.warn({ object: i.object, field: i.field }, `invalid object skipped: ${line}`);
    });
  }

  return {
    firstSync,
    async stop() {
      clearInterval(resync);
      heap.stop();
      stopWatching();
      waiting.done();
      await informers.stop();
      await scheduler.stop();
      await serviceHealth.close();
      for (const close of closers) await close();
    },
  };
}

/** The data plane --proxy-mode names; IPVS mode's code is loaded only for it. */
async function openPlane(cfg: Config, tamper: TamperWatch | undefined, log: Logger): Promise<DataPlane> {
  if (cfg.mode !== 'ipvs') return new NftablesPlane(cfg, tamper, log);
  const { IpvsPlane } = await import('./ipvs-plane.js');
  return IpvsPlane.open(cfg, { tamper, log });
}

/** The tamper watch over nf_tables netlink; without the netlink addon, the agent runs without it and says so. */
function openTamperWatch(log: Logger, onRestore: () => void): TamperWatch | undefined {
  try {
    return new TamperWatch(NftInspector.open(), TABLE, log, onRestore);
  } catch (e) {
    log.error({ err: (e as Error).message }, 'cannot watch the tables for changes by others: they are restored only by the periodic resync');
    return undefined;
  }
}

/**
 * Says once, clearly, that nothing is programmed until the API server has
 * answered every first list, and why it has not (the error); then again at a
 * low rate while that lasts.
 */
function waitForFirstLists(log: Logger, pending: () => string[]): { failed(resource: string, error: Error): void; done(): void } {
  let last: { resource: string; error: string } | undefined;
  let reminder: NodeJS.Timeout | undefined;
  const say = (msg: string) => log.warn({ waitingFor: pending(), lastError: last }, msg);
  return {
    failed(resource, error) {
      const first = last === undefined;
      last = { resource, error: error.message };
      if (!first) return;
      say('waiting for the API server: nothing is programmed until every first list is complete; the rules already in the kernel stay as they are');
      reminder = setInterval(() => say('still waiting for the API server; the kernel keeps its rules'), WAITING_REMINDER_MS);
    },
    done() {
      clearInterval(reminder);
      reminder = undefined;
    },
  };
}

/** Calls `report` for each line not in `seen`; returns the lines that hold now, the next call's `seen`. */
function onlyNew(lines: Iterable<string>, seen: ReadonlySet<string>, report: (line: string) => void): Set<string> {
  const now = new Set(lines);
  for (const line of now) if (!seen.has(line)) report(line);
  return now;
}

function healthTargets(policies: Iterable<PortPolicy>) {
  const byService = new Map<string, { namespace: string; name: string; port: number; localEndpoints: number }>();
  for (const { sp, external } of policies) {
    if (sp.healthCheckNodePort === 0 || byService.has(`${sp.namespace}/${sp.name}`)) continue;
    // kube-proxy counts this node's ready endpoints.
    const localEndpoints = external.filter((e) => e.isLocal && e.ready).length;
    byService.set(`${sp.namespace}/${sp.name}`, { namespace: sp.namespace, name: sp.name, port: sp.healthCheckNodePort, localEndpoints });
  }
  return [...byService.values()];
}
