// The real agent at scale: `svcrouter run` as a child process in the node
// namespace of a cluster bed, watching its fake API server.
import { startAgentProcess, type AgentProcess } from '../test/support/agent-process.js';
import { atExit } from './cleanup.js';
import type { ClusterBed } from './cluster-bed.js';
import { CLUSTER_CIDRS, NODE_NAME } from './synthetic-cluster.js';

export type LogLine = Record<string, any>;

export interface AgentBed {
  readonly cluster: ClusterBed;
  readonly agent: AgentProcess;
  /** `ip netns exec` execs node: the child's pid is the agent's. */
  readonly pid: number;
  /** Date.now() just before the agent was spawned. */
  readonly startedAt: number;
  /** The first log line matching, or an error with the agent's last lines if it exits or the time runs out. */
  untilLog(match: (l: LogLine) => boolean, ms: number): Promise<LogLine>;
  /** The first 'synced' line whose sync folded in the API event with this resourceVersion (or a later one). */
  untilCommitted(rv: number, ms: number): Promise<LogLine>;
  /** SIGTERM (the rules stay), SIGKILL if it lingers. */
  stopAgent(): Promise<void>;
  /** SIGKILL, if it still runs. */
  destroy(): Promise<void>;
}

export const isSynced = (l: LogLine) => l.msg === 'synced';
export const commits = (rv: number) => (l: LogLine) => isSynced(l) && Number(l.lastResourceVersion) >= rv;

/** The flags both the agent and memory-breakdown-client.ts use. */
export const AGENT_FLAGS = {
  hostnameOverride: NODE_NAME, clusterCidr: CLUSTER_CIDRS,
  // A 100 ms batching window (kube-proxy's default is 1 s) and kube-proxy's default resync period,
  // so churn is batched and idle includes the periodic reassert, as on a tuned node.
  minSyncPeriod: '100ms', syncPeriod: '30s',
};

/** `flags` override AGENT_FLAGS' sync periods. */
export function startAgent(cluster: ClusterBed, flags: Partial<Pick<typeof AGENT_FLAGS, 'minSyncPeriod' | 'syncPeriod'>> = {}): AgentBed {
  const startedAt = Date.now();
  const f = { ...AGENT_FLAGS, ...flags };
  const running = startAgentProcess(cluster.topo.nodeNs, [
    `--kubeconfig=${cluster.kubeconfig}`, `--hostname-override=${f.hostnameOverride}`, `--cluster-cidr=${f.clusterCidr}`,
    `--min-sync-period=${f.minSyncPeriod}`, `--sync-period=${f.syncPeriod}`,
  ]);
  const child = running.child;
  const unregister = atExit(() => child.kill('SIGKILL'));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`agent exited (${code ?? signal}); last lines: ${lastLines(running.logs)}`))));
  exited.catch(() => {}); // only ever awaited in a race
  const untilLog = (match: (l: LogLine) => boolean, ms: number) => Promise.race([running.waitForLog(match, ms), exited]);
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    cluster, agent: running, pid: child.pid!, startedAt, untilLog,
    untilCommitted: (rv, ms) => untilLog(commits(rv), ms),
    async stopAgent() {
      if (!alive()) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await running.stop();
      clearTimeout(timer);
    },
    async destroy() {
      if (alive()) await running.kill();
      unregister();
    },
  };
}

function lastLines(logs: readonly LogLine[]): string {
  return logs.slice(-5).map((l) => JSON.stringify(l)).join(' | ').slice(0, 2000);
}

/** Expected of every run: the bench's fake API server speaks plain HTTP. */
const EXPECTED_WARNING = /is plain HTTP/;

/**
 * The agent's warning- and error-level log lines (pino level >= 40), for the
 * report: one of each kind (alike but for numbers: the same note on many
 * services) with how often it came. A warning repeated while the agent should
 * be quiet (a restore every second, say) explains its figures.
 */
export function agentWarnings(logs: readonly LogLine[]): string[] {
  const kinds = new Map<string, { first: string; n: number }>();
  for (const l of logs) {
    if (Number(l.level) < 40) continue;
    const line = [l.msg, l.err, l.damage].filter((x) => x !== undefined).map(String).join(': ');
    if (EXPECTED_WARNING.test(line)) continue;
    const key = line.replace(/\d+/g, '#');
    const kind = kinds.get(key) ?? { first: line, n: 0 };
    kinds.set(key, { ...kind, n: kind.n + 1 });
  }
  return [...kinds.values()].map(({ first, n }) => (n > 1 ? `${first} (${n} times like this)` : first));
}
