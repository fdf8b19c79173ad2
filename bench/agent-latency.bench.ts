// The agent at scale: N services x M endpoints in the fake API server, the
// real agent in a network namespace; cold start, then event-to-committed
// latency of single endpoint changes, and the agent's RSS. Root only.
//   SERVICES=10000 ENDPOINTS=10 CHANGES=100 npx vitest run --config bench/vitest.config.ts bench/agent-latency.bench.ts
import { it } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { createTopology } from '../test/support/topology.js';
import { startFakeApiServer } from '../test/support/fake-apiserver.js';
import { startAgentProcess, writeKubeconfig } from '../test/support/agent-process.js';
// @ts-expect-error plain JS module shared with bench/nft-scale.mjs
import { syntheticCluster } from './synthetic-cluster.mjs';

const N = Number(process.env.SERVICES ?? 10000);
const M = Number(process.env.ENDPOINTS ?? 10);
const CHANGES = Number(process.env.CHANGES ?? 100);

const rssMiB = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(/(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!)![1]) / 1024;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

it(`agent: ${N} services x ${M} endpoints`, async () => {
  const topo = await createTopology({ pods: [], apiLink: true });
  const api = await startFakeApiServer({ host: topo.apiHost, token: 't', bookmarkIntervalMs: 30_000 });
  try {
    const objects = syntheticCluster(N, M) as { raw: Record<string, any> }[];
    for (const { raw } of objects) api.upsert(raw);
    const t0 = Date.now();
    const agent = startAgentProcess(topo.nodeNs, [`--kubeconfig=${writeKubeconfig(api.url, 't')}`, '--hostname-override=node-a',
      '--cluster-cidr=10.128.0.0/9,fd00:128::/32', '--min-sync-period=0', '--sync-period=1h', '--healthz-bind-address=', '--metrics-bind-address=']);
    const first = await agent.waitForLog((l) => l.msg === 'synced', 600_000);
    const coldMs = first.time - t0;
    const pid = agent.child.pid!;
    const latencies: number[] = [];
    const slice = objects.find((o) => o.raw.kind === 'EndpointSlice' && o.raw.metadata.name === 'svc-17-ipv4')!.raw;
    for (let i = 0; i < CHANGES; i++) {
      const endpoints = i % 2 === 0 ? slice.endpoints.slice(1) : slice.endpoints; // remove, then re-add, one endpoint
      const seen = agent.logs.filter((l) => l.msg === 'synced').length;
      const sent = Date.now();
      api.upsert({ ...slice, endpoints });
      const line = await agent.waitForLog((l) => l.msg === 'synced' && agent.logs.filter((x) => x.msg === 'synced').indexOf(l) >= seen, 120_000);
      latencies.push(line.time - sent);
    }
    const result = {
      services: N, endpointsPerService: M, changes: CHANGES,
      coldStartMs: coldMs,
      eventToCommittedMs: { median: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: Math.max(...latencies) },
      rssMiB: Number(rssMiB(pid, 'VmRSS').toFixed(1)), peakRssMiB: Number(rssMiB(pid, 'VmHWM').toFixed(1)),
      lastSync: agent.logs.filter((l) => l.msg === 'synced').pop(),
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/agent-latency-${new Date().toISOString().slice(0, 10)}-${hostname()}-${N}.json`, JSON.stringify(result, null, 2) + '\n');
    await agent.stop();
  } finally {
    await api.stop();
    await topo.destroy();
  }
});
