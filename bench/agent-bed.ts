// The real agent at scale: `svcrouter run` as a child process in a node
// namespace, watching the fake API server (in this process, over the API
// veth), loaded with a synthetic cluster before the agent starts.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTopology, type Topology } from '../test/support/topology.js';
import { startFakeApiServer, type FakeApiServer } from '../test/support/fake-apiserver.js';
import { startAgentProcess, writeKubeconfig, type AgentProcess } from '../test/support/agent-process.js';
import { atExit } from './cleanup.js';
import { CLUSTER_CIDRS, NODE_NAME, type Raw } from './synthetic-cluster.js';
import { uniqueName } from './workspace.js';

export type LogLine = Record<string, any>;

export interface AgentBed {
  readonly topo: Topology;
  readonly api: FakeApiServer;
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
  destroy(): Promise<void>;
}

const TOKEN = 'bench-token';

export const isSynced = (l: LogLine) => l.msg === 'synced';
export const commits = (rv: number) => (l: LogLine) => isSynced(l) && Number(l.lastResourceVersion) >= rv;

export async function startAgentBed(objects: readonly Raw[]): Promise<AgentBed> {
  const topo = await createTopology({ prefix: uniqueName(), pods: [], apiLink: true });
  let api: FakeApiServer | undefined;
  let agent: AgentProcess | undefined;
  let kubeconfig: string | undefined;
  const unregister = atExit(() => agent?.child.kill('SIGKILL'));
  const destroy = async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) await agent.kill();
    unregister();
    await api?.stop();
    await topo.destroy();
    if (kubeconfig) rmSync(dirname(kubeconfig), { recursive: true, force: true });
  };
  try {
    // Real API servers send a bookmark about once a minute; history is kept long enough that no watch restart relists.
    api = await startFakeApiServer({ host: topo.apiHost, token: TOKEN, bookmarkIntervalMs: 60_000, historyLimit: 1_000_000 });
    for (const o of objects) api.upsert(o);
    kubeconfig = writeKubeconfig(api.url, TOKEN);
    const startedAt = Date.now();
    agent = startAgentProcess(topo.nodeNs, [
      `--kubeconfig=${kubeconfig}`, `--hostname-override=${NODE_NAME}`, `--cluster-cidr=${CLUSTER_CIDRS}`,
      // A 100 ms batching window (kube-proxy's default is 1 s) and kube-proxy's default resync period,
      // so churn is batched and idle includes the periodic reassert, as on a tuned node.
      '--min-sync-period=100ms', '--sync-period=30s',
    ]);
    const running = agent;
    const child = agent.child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`agent exited (${code ?? signal}); last lines: ${lastLines(running.logs)}`))));
    exited.catch(() => {}); // only ever awaited in a race
    const untilLog = (match: (l: LogLine) => boolean, ms: number) => Promise.race([running.waitForLog(match, ms), exited]);
    return {
      topo, api, agent: running, pid: child.pid!, startedAt, untilLog,
      untilCommitted: (rv, ms) => untilLog(commits(rv), ms),
      async stopAgent() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await running.stop();
        clearTimeout(timer);
      },
      destroy,
    };
  } catch (e) {
    await destroy();
    throw e;
  }
}

function lastLines(logs: readonly LogLine[]): string {
  return logs.slice(-5).map((l) => JSON.stringify(l)).join(' | ').slice(0, 2000);
}

/** The agent's error-level log lines (pino level >= 50), for the report. */
export function agentErrors(logs: readonly LogLine[]): string[] {
  return logs.filter((l) => Number(l.level) >= 50).map((l) => String(l.msg ?? '') + (l.err ? `: ${String(l.err)}` : ''));
}
