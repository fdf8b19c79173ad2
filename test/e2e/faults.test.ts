// Never black out a node: the real agent against the fake API server and a
// real kernel, with a client connecting to a ClusterIP throughout each fault.
// Every case asserts that no connection failed and that the kernel holds
// exactly what a full render of the cluster holds afterwards.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { createBed, FAMS, ip, PODS, POD_PORT, sliceFamily, thisNode, type Bed, type PodName } from '../support/bed.js';
import { service, serviceCIDRs, slice, type Raw } from '../support/manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { httpGetIn, startAgentProcess, writeKubeconfig, type AgentProcess } from '../support/agent-process.js';
import { startTrafficLoop, type TrafficLoop, type TrafficTally } from '../support/traffic-loop.js';
import { until } from '../support/until.js';

const e2e = requireKernel();
const TOKEN = 'faults-token';
const VIP = { v4: '10.96.0.80', v6: 'fd00:96::80' };
const SYNC_PERIOD_MS = 1000;

function web(pods: PodName[]): Raw[] {
  return [
    service('web', { ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }),
    ...FAMS.map((f) => slice('web', sliceFamily(f), [{ name: 'http', protocol: 'TCP', port: POD_PORT }], pods.map((p) => ({ ip: ip(p, f), node: PODS[p].node })))),
  ];
}

/** A Service with ClientIP affinity: its load-balancing chains hold rules with inline maps, which the kernel keeps as anonymous sets. */
const sticky: Raw[] = [
  service('sticky', { clusterIP: '10.96.0.82', sessionAffinity: 'ClientIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }),
  slice('sticky', 'IPv4', [{ name: 'http', protocol: 'TCP', port: POD_PORT }], (['a1', 'b1'] as const).map((p) => ({ ip: ip(p, 'v4'), node: PODS[p].node }))),
];

e2e('faults: the node keeps every rule', () => {
  let bed: Bed;
  let api: FakeApiServer;
  let kubeconfig: string;
  const agents: AgentProcess[] = [];
  let traffic: TrafficLoop | undefined;

  beforeAll(async () => {
    bed = await createBed({ apiLink: true });
    api = await startFakeApiServer({ host: bed.topo.apiHost, token: TOKEN, bookmarkIntervalMs: 1000 });
    kubeconfig = writeKubeconfig(api.url, TOKEN);
    api.upsert(thisNode());
    api.upsert(serviceCIDRs());
    for (const o of web(['a1', 'b1'])) api.upsert(o);
  });
  afterEach(async () => {
    await traffic?.stop();
    traffic = undefined;
    for (const a of agents.splice(0)) await a.kill();
    await api.restart(); // a case may leave it stopped
  });
  afterAll(async () => {
    await api?.stop();
    await bed?.destroy();
  });

  function run(syncPeriodMs = SYNC_PERIOD_MS): AgentProcess {
    const a = startAgentProcess(bed.topo.nodeNs, [
      `--kubeconfig=${kubeconfig}`, '--hostname-override=node-a', '--cluster-cidr=10.244.0.0/16,fd00:244::/32',
      '--min-sync-period=0', `--sync-period=${syncPeriodMs}ms`, '--metrics-bind-address=0.0.0.0:10249',
    ]);
    agents.push(a);
    return a;
  }
  const synced = (a: AgentProcess, ms = 45_000) => a.waitForLog((l) => l.msg === 'synced', ms);
  /** Waits for a change to be programmed; on a timeout, says what the agent was doing. */
  const followed = async (a: AgentProcess, what: string, cond: () => Promise<boolean>) => {
    try {
      await until(what, cond, 45_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the agent's last lines: ${JSON.stringify(a.logs.slice(-8))}`);
    }
  };
  const startTraffic = () => (traffic = startTrafficLoop(bed, 'cp', 'tcp', VIP.v4, 80));
  const stopTraffic = async (): Promise<TrafficTally> => {
    const t = await traffic!.stop();
    traffic = undefined;
    return t;
  };
  const expectNoFailure = (t: TrafficTally) => {
    expect(Object.fromEntries(t.outcomes)).toEqual({ ok: t.ok });
    expect(t.ok).toBeGreaterThan(8);
  };
  /** The kernel holds exactly what a full render of the API server's objects holds. */
  const expectKernelHoldsCluster = async () => {
    const objects = (['Service', 'EndpointSlice'] as const).flatMap((k) => api.list(k) as Raw[]);
    const want = bed.compute([serviceCIDRs(), ...objects]).tables;
    await withBareNamespaces(1, async ([bare]) => {
      await netnsExec(bare!, ['nft', '-f', '-'], renderTables(want));
      expect((await readTables(bed.topo.nodeNs)).split('\n')).toEqual((await readTables(bare!)).split('\n'));
    });
  };
  const metric = async (name: string) => {
    const [, body] = await httpGetIn(bed.topo.nodeNs, 'http://127.0.0.1:10249/metrics');
    const line = body.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  /** The kernel's entries for connections to the web VIP that were never DNATed (made while the rules were missing), by source port. */
  const unNatted = async (sport?: number) => {
    const listed = await netnsExec(bed.topo.nodeNs, ['conntrack', '-L', '-f', 'ipv4', '-p', 'tcp', '--orig-dst', VIP.v4, ...(sport ? ['--sport', String(sport)] : [])]);
    return listed.split('\n').filter((l) => l.includes(` src=${VIP.v4} dst=`));
  };
  const cleared = () => until('the entries made while the rules were missing are cleared', async () => (await unNatted()).length === 0, 10_000);
  const reaches = async (pods: PodName[]) => {
    const r = await bed.probe('cp', Array.from({ length: 16 * pods.length }, () => ({ proto: 'tcp' as const, addr: VIP.v4, port: 80 })));
    const seen = new Set(r.map((x) => (x.outcome === 'ok' ? x.reply.localAddr : x.outcome)));
    return [...seen].sort().join() === pods.map((p) => ip(p, 'v4')).sort().join();
  };

  it('a restart while the API server is unreachable for longer than two sync periods touches nothing; then it follows', async () => {
    await synced(run());
    startTraffic();
    await agents.pop()!.kill(); // an OOM kill, an upgrade, a reboot...
    await api.stop(); // ...while the API server cannot be reached
    const a = run();
    await a.waitForLog((l) => /^waiting for the API server/.test(l.msg ?? ''), 20_000);
    await new Promise((r) => setTimeout(r, 3 * SYNC_PERIOD_MS));
    expect(a.logs.filter((l) => l.msg === 'synced')).toEqual([]);
    expect((await httpGetIn(bed.topo.nodeNs, 'http://127.0.0.1:10256/healthz'))[0]).toBe(200); // kube-proxy: healthy while nothing is queued
    await expectKernelHoldsCluster();
    await api.restart();
    await synced(a);
    for (const o of web(['a1', 'a2', 'b1'])) api.upsert(o);
    await followed(a, 'a change after the outage', () => reaches(['a1', 'a2', 'b1']));
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
    // Said once, clearly, with the reason; not once per retry.
    const waits = a.logs.filter((l) => /waiting for the API server/.test(l.msg ?? ''));
    expect(waits).toHaveLength(1);
    expect(JSON.stringify(waits[0])).toMatch(/ECONNREFUSED|connect/);
  });

  it('the API server down for a minute while the agent runs: the rules stay, resyncs go on, changes follow when it is back', async () => {
    for (const o of web(['a1', 'b1'])) api.upsert(o);
    const a = run();
    await synced(a);
    startTraffic();
    await api.stop();
    const downAt = a.logs.length;
    await new Promise((r) => setTimeout(r, 60_000));
    const during = a.logs.slice(downAt);
    expect(during.filter((l) => l.msg === 'synced').length).toBeGreaterThan(30); // the periodic resync kept working (writing nothing: nothing changed)
    expect(during.filter((l) => (l.level ?? 0) >= 40).length).toBeLessThanOrEqual(12); // warnings: once per resource and episode, not per retry
    for (const o of web(['a2', 'b1'])) api.upsert(o); // what changed while it was away
    await api.restart();
    await followed(a, 'the change made during the outage', () => reaches(['a2', 'b1']));
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
  });

  it('5xx and 429 answers are retried with backoff (Retry-After honoured), counted, and change nothing', async () => {
    for (const o of web(['a1', 'b1'])) api.upsert(o);
    const a = run();
    await synced(a);
    startTraffic();
    // Every watch ends, and reconnecting meets 503s and 429s...
    api.failNext('Service', 'watch', 503, 3);
    api.failNext('EndpointSlice', 'watch', 429, 2, 1);
    api.dropWatches();
    await until('the watch errors are counted', async () =>
      (await metric('svcrouter_api_errors_total{resource="services",reason="http_5xx"}')) >= 3
      && (await metric('svcrouter_api_errors_total{resource="endpointslices",reason="http_429"}')) >= 2, 45_000);
    // ...then their history is lost, so they must relist, and the lists fail for a while too.
    api.failNext('Service', 'list', 500, 2);
    api.failNext('EndpointSlice', 'list', 429, 2, 1);
    api.dropWatches();
    api.upsert(service('bump', { clusterIP: '10.96.0.81', ports: [{ name: 'p', port: 80 }] }));
    api.compactHistory();
    await until('the list errors are counted', async () =>
      (await metric('svcrouter_api_errors_total{resource="services",reason="http_5xx"}')) >= 5
      && (await metric('svcrouter_api_errors_total{resource="endpointslices",reason="http_429"}')) >= 4, 45_000);
    for (const o of web(['a2', 'b1'])) api.upsert(o);
    await followed(a, 'a change after the errors', () => reaches(['a2', 'b1']));
    await until('the Service created while the lists failed', async () =>
      (await netnsExec(bed.topo.nodeNs, ['nft', 'list', 'set', 'ip', 'svcrouter', 'cluster-ips'])).includes('10.96.0.81'), 45_000);
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
    api.remove('Service', 'default', 'bump');
  });

  it('a malformed watch event relists, and nothing is lost', async () => {
    for (const o of web(['a1', 'b1'])) api.upsert(o);
    const a = run();
    await synced(a);
    startTraffic();
    await until('the watches are open', () => api.requests.filter((q) => q.query.watch === 'true' && q.path.includes('endpointslices')).length > 0);
    await new Promise((r) => setTimeout(r, 200));
    api.sendRawWatchLine('EndpointSlice', '{"type":"MODIFIED","object":{"metadata":{"name":"web-ipv4","namespace":"default"},"endpoints":[{"addr\n');
    await until('the malformed event is counted', async () => (await metric('svcrouter_api_errors_total{resource="endpointslices",reason="malformed"}')) >= 1);
    for (const o of web(['a1', 'a2'])) api.upsert(o);
    await followed(a, 'a change after the malformed event', () => reaches(['a1', 'a2']));
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
  });

  it('a list that fails between its pages at start commits nothing until a whole list arrives', async () => {
    // More Services than one page (500) holds.
    const many = Array.from({ length: 520 }, (_, i) => service(`many-${i}`, { clusterIP: `10.96.${2 + (i >> 8)}.${i & 255}`, ports: [{ name: 'p', port: 80 }] }));
    for (const o of [...web(['a1', 'b1']), ...many]) api.upsert(o);
    await synced(run());
    startTraffic();
    await agents.pop()!.kill();
    api.failNext('Service', 'page', 500, 4);
    const a = run();
    await until('the pages fail', () => api.requests.filter((q) => q.query.continue && q.path.includes('services')).length >= 3, 30_000);
    expect(a.logs.filter((l) => l.msg === 'synced')).toEqual([]);
    await synced(a);
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
    for (const o of many) api.remove('Service', 'default', (o.metadata as Raw).name as string);
  });

  // With a 30 s --sync-period, a restore within seconds comes from noticing the change, not from the periodic resync.
  for (const [what, command] of [
    ['its table is deleted', 'nft delete table ip svcrouter'],
    ['the whole ruleset is flushed', 'nft flush ruleset'],
    ['a load-balancing chain is flushed (a periodic reassert would leave it empty)', 'nft flush chain ip svcrouter vip-2'],
  ] as const) {
    it(`tampering: when ${what}, the agent notices and restores every rule well within one sync period`, async () => {
      for (const o of [...web(['a1', 'b1']), ...sticky]) api.upsert(o);
      const a = run(30_000);
      await synced(a);
      // Its first checks find the kernel as it left it (anonymous sets of rules, affinity sets and all).
      await new Promise((r) => setTimeout(r, 2500));
      expect(await metric('svcrouter_tamper_restores_total')).toBe(0);
      const at = Date.now();
      await netnsExec(bed.topo.nodeNs, ['sh', '-c', command]);
      await until('traffic flows again', () => reaches(['a1', 'b1']), 20_000, 50);
      const restoredMs = Date.now() - at;
      console.log(`tampering (${command}): restored after ${restoredMs} ms`);
      expect(restoredMs).toBeLessThan(30_000);
      expect(await metric('svcrouter_tamper_restores_total')).toBe(1);
      expect(a.logs.some((l) => /changed by someone else/.test(l.msg ?? ''))).toBe(true);
      await expectKernelHoldsCluster();
      await cleared(); // the probes while the rules were missing left entries that new connections from the same ports would meet
      startTraffic();
      await new Promise((r) => setTimeout(r, 1500));
      expectNoFailure(await stopTraffic());
      for (const o of sticky) api.remove(o.kind as 'Service' | 'EndpointSlice', 'default', (o.metadata as Raw).name as string);
    });
  }

  it('a connection from a source port the kernel saw while the rules were missing is served once they are restored', async () => {
    for (const o of web(['a1', 'b1'])) api.upsert(o);
    const a = run(30_000);
    await synced(a);
    const SPORT = 40_123;
    const fromPort = async () => (await bed.probe('cp', [{ proto: 'tcp', addr: VIP.v4, port: 80, srcPort: SPORT, timeoutMs: 2500 }]))[0]!.outcome;
    // Conntrack is on whatever svcrouter holds, as on any real node (here: a CNI's masquerade chain). While
    // svcrouter's table is gone a connection to the VIP is tracked but not rewritten: it goes out by the node's
    // default route, and its entry would hold the next connection from that port for 120 s.
    await netnsExec(bed.topo.nodeNs, ['nft', '-f', '-'], 'table ip cni {\n chain postrouting {\n type nat hook postrouting priority srcnat\n ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade\n }\n}\n');
    for (let attempt = 0; (await unNatted(SPORT)).length === 0; attempt++) {
      expect(attempt, 'the kernel made no entry while the rules were missing (restored before the probe each time)').toBeLessThan(5);
      await until('the rules are in', () => reaches(['a1', 'b1']), 20_000, 50);
      await netnsExec(bed.topo.nodeNs, ['nft', 'delete', 'table', 'ip', 'svcrouter']);
      await bed.probe('cp', [{ proto: 'tcp', addr: VIP.v4, port: 80, srcPort: SPORT, timeoutMs: 300 }]);
    }
    await until('traffic flows again', () => reaches(['a1', 'b1']), 20_000, 50);
    await cleared();
    expect(await fromPort()).toBe('ok');
    expect(a.logs.some((l) => l.msg === 'cleared conntrack entries made while the rules were missing')).toBe(true);
    await netnsExec(bed.topo.nodeNs, ['nft', 'delete', 'table', 'ip', 'cni']);
    await expectKernelHoldsCluster();
  });

  it('SIGTERM leaves the rules in place, and a new agent takes over without a dropped connection', async () => {
    for (const o of web(['a1', 'b1'])) api.upsert(o);
    // A fresh node (the cases before left tables): they are created in steps (new-tables.ts); a restart finds them and replaces them at once.
    await netnsExec(bed.topo.nodeNs, ['sh', '-c', 'nft delete table ip svcrouter; nft delete table ip6 svcrouter; true']);
    const a = run();
    expect((await synced(a)).transactions).toBeGreaterThanOrEqual(3);
    startTraffic();
    expect(await a.stop()).toBe(0);
    agents.pop();
    await new Promise((r) => setTimeout(r, 1000)); // no agent at all for a while
    await expectKernelHoldsCluster();
    expect((await synced(run())).transactions).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expectNoFailure(await stopTraffic());
    await expectKernelHoldsCluster();
  });
});
