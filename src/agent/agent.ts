// The node agent: informers feed the state tracker and wake the scheduler;
// each sync decides again only the service ports that changed and commits one
// transaction: their plan, or a full render at start, after a failure and
// every sync period; then health, metrics, conntrack and health-check ports follow.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { startInformers, type Informers } from '../k8s/informers.js';
import { StateTracker } from '../state/tracker.js';
import type { ProxyState } from '../state/types.js';
import { PolicyTable, type PolicyChange, type PortPolicy } from '../policy/port-policy.js';
import { staleUdpFlows } from '../policy/stale-flows.js';
import { IncrementalTables } from '../backends/nftables/incremental.js';
import { renderReassert, renderTables } from '../backends/nftables/render.js';
import { applyScript } from '../kernel/nft.js';
import { deleteFlows } from '../kernel/conntrack.js';
import { formatIssue, type Issue } from '../state/issues.js';
import { SyncScheduler } from './scheduler.js';
import { ProxyHealth, nodeEligible, startProxyHealthServer } from './proxy-health.js';
import { ServiceHealthServers } from './service-health.js';
import { createMetrics, issueCategory, startMetricsServer } from './metrics.js';
import { ProgrammedView, traceHandler } from './trace-endpoint.js';

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

type Mode = 'replace' | 'reassert' | 'plan';

/**
 * kube-proxy's largeClusterEndpointsThreshold: above it, the periodic resync
 * reasserts rules only, as kube-proxy stops periodic full resyncs there (a
 * full rewrite at 10k services costs more than a second of nft every period).
 */
const LARGE_CLUSTER_ENDPOINTS = 1000;

/** kube-proxy's burstSyncs: syncs that may run back to back within --min-sync-period. */
const BURST_SYNCS = 2;

/** Trigger times waiting for a commit; bounded while syncs keep failing. */
const MAX_PENDING_TRIGGERS = 10_000;

export async function startAgent({ cfg, kc, log }: AgentOptions): Promise<Agent> {
  const metrics = createMetrics();
  const health = new ProxyHealth({ healthTimeoutMs: 2 * cfg.syncPeriodMs });
  const closers: (() => Promise<void>)[] = [];
  const programmed = new ProgrammedView();
  if (cfg.metricsBindAddress) closers.push((await startMetricsServer(cfg.metricsBindAddress, metrics, cfg.mode, { '/trace': traceHandler(programmed, cfg) })).close);
  if (cfg.healthzBindAddress) {
    const server = await startProxyHealthServer(cfg.healthzBindAddress, health, (path, code) =>
      (path === '/healthz' ? metrics.healthzTotal : metrics.livezTotal).inc({ code: String(code) }));
    closers.push(server.close);
  }
  const serviceHealth = new ServiceHealthServers({ bindAddresses: [], proxyHealthy: () => health.isHealthy(), log: (m: string) => log.warn(m) });

  const tracker = new StateTracker({ nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  const policies = new PolicyTable();
  // What the kernel should hold, kept incrementally.
  const tables = new IncrementalTables();
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

  const sync = async (): Promise<boolean> => {
    const mode: Mode = !committed || replaceDue ? 'replace' : reassertDue ? 'reassert' : 'plan';
    reassertDue = false;
    const started = performance.now();
    const full = mode !== 'plan';
    const resourceVersion = lastResourceVersion;
    let script: string;
    const ms: Record<'computeMs' | 'renderMs' | 'commitMs', number> = { computeMs: 0, renderMs: 0, commitMs: 0 };
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
      if (mode === 'replace') tables.reset();
      const applied = mode === 'replace' ? [...policies.all()].map((after) => ({ id: after.sp.id, before: undefined, after })) : decided;
      // A reassert of rules only writes no element: this sync's own changes go with it, as a plan.
      const scope = mode === 'reassert' ? reassertScope(state) : 'everything';
      const plan = tables.update(state, cfg, applied, changes.base, mode === 'plan' || scope === 'rules');
      const computed = performance.now();
      script = mode === 'replace' ? renderTables(tables.tables())
        : mode === 'plan' ? plan
        : scope === 'rules' ? plan + renderReassert(tables.tables(), 'rules')
        : renderReassert(tables.tables());
      const rendered = performance.now();
      await applyScript(script);
      programmed.commit(uncommitted.values(), state, issues);
      Object.assign(ms, { computeMs: computed - started, renderMs: rendered - computed, commitMs: performance.now() - rendered });
    } catch (e) {
      replaceDue = true; // the kernel may differ from what we believe: take it over whole
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
    recordSuccess(seconds, full, script);
    await deleteFlows(stale).catch((e: Error) => log.warn({ err: e.message }, 'conntrack cleanup failed'));
    await serviceHealth.sync(healthTargets(policies.withHealthCheck()));
    const round = (x: number) => Number(x.toFixed(2));
    log.info({
      mode, seconds: Number(seconds.toFixed(4)), computeMs: round(ms.computeMs), renderMs: round(ms.renderMs), commitMs: round(ms.commitMs),
      bytes: script.length, operations: countOps(script), servicePorts: policies.size, staleFlows: stale.length, lastResourceVersion: resourceVersion,
    }, 'synced');
    resolveFirst();
    return true;
  };

  const scheduler = new SyncScheduler({ minIntervalMs: cfg.minSyncPeriodMs, burst: BURST_SYNCS, retryMs: { initial: 1000, max: 30_000 }, run: sync });

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
      metrics.lastQueuedTimestamp.setToCurrentTime();
      health.queuedUpdate();
      // A half-known cluster is never programmed: syncs wait for every first list.
      if (informers?.hasSynced()) scheduler.request();
    },
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
    onRelist: (r) => metrics.informerRelists.inc({ resource: r }),
    onRestart: (r) => metrics.informerRestarts.inc({ resource: r }),
  });
  void informers.synced.then(() => {
    log.info('caches synced; programming');
    scheduler.request();
  });
  const resync = setInterval(() => {
    reassertDue = true;
    scheduler.request();
  }, cfg.syncPeriodMs);

  function recordSuccess(seconds: number, full: boolean, script: string): void {
    metrics.endpointChangesPending.set(0);
    metrics.serviceChangesPending.set(0);
    const noLocal = policies.noLocalEndpoints();
    metrics.noLocalEndpoints.set({ traffic_policy: 'internal' }, noLocal.internal);
    metrics.noLocalEndpoints.set({ traffic_policy: 'external' }, noLocal.external);
    (full ? metrics.syncFullDuration : metrics.syncPartialDuration).observe(seconds);
    metrics.syncDuration.observe(seconds);
    metrics.syncTotal.inc({ kind: full ? 'full' : 'partial', result: 'success' });
    metrics.transactionBytes.observe(script.length);
    metrics.transactionOperations.observe(countOps(script));
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
      await informers.stop();
      await scheduler.stop();
      await serviceHealth.close();
      for (const close of closers) await close();
    },
  };
}

/** Calls `report` for each line not in `seen`; returns the lines that hold now, the next call's `seen`. */
function onlyNew(lines: Iterable<string>, seen: ReadonlySet<string>, report: (line: string) => void): Set<string> {
  const now = new Set(lines);
  for (const line of now) if (!seen.has(line)) report(line);
  return now;
}

function reassertScope(state: ProxyState): 'everything' | 'rules' {
  let endpoints = 0;
  for (const eps of state.endpoints.values()) endpoints += eps.length;
  return endpoints > LARGE_CLUSTER_ENDPOINTS ? 'rules' : 'everything';
}

function countOps(script: string): number {
  let n = 0;
  for (let i = script.indexOf('\n'); i >= 0; i = script.indexOf('\n', i + 1)) n++;
  return n;
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
