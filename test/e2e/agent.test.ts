// The live agent: `svcrouter run` as a child process in the node's namespace,
// watching the fake API server through @kubernetes/client-node's kubeconfig,
// with real traffic following every change and every failure.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireKernel, netnsExec, run as runTool } from '../support/netns.js';
import { ADDR, connect, createBed, expectReached, FAMS, ip, PODS, POD_PORT, sliceFamily, thisNode, triesFor, type Bed, type PodName } from '../support/bed.js';
import { service, serviceCIDRs, slice, type EndpointSpec, type Raw } from '../support/manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { httpGetIn, startAgentProcess, writeKubeconfig, type AgentProcess } from '../support/agent-process.js';
import { until } from '../support/until.js';
import { startTrafficLoop } from '../support/traffic-loop.js';

const e2e = requireKernel();
const TOKEN = 'agent-token';
const VIP = { v4: '10.96.0.70', v6: 'fd00:96::70' };
type Ep = Omit<EndpointSpec, 'ip' | 'node'> & { pod: PodName };

function web(eps: Ep[], spec: Raw = {}, name = 'web', vip = VIP): Raw[] {
  return [
    service(name, { ipFamilyPolicy: 'RequireDualStack', clusterIPs: [vip.v4, vip.v6], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ...spec }),
    ...FAMS.map((f) => slice(name, sliceFamily(f), [{ name: 'http', protocol: 'TCP', port: POD_PORT }], eps.map(({ pod, ...rest }) => ({ ...rest, ip: ip(pod, f), node: PODS[pod].node })))),
  ];
}

e2e('svcrouter run', () => {
  let bed: Bed;
  let api: FakeApiServer;
  let kubeconfig: string;
  let agent: AgentProcess | undefined;
  const shimDir = mkdtempSync(join(tmpdir(), 'svcrouter-shim-'));
  const failFlag = join(shimDir, 'fail');
  const shim = join(shimDir, 'nft-fail-shim.so');

  beforeAll(async () => {
    bed = await createBed({ apiLink: true });
    bed.traceThroughAgent();
    api = await startFakeApiServer({ host: bed.topo.apiHost, token: TOKEN, bookmarkIntervalMs: 1000 });
    kubeconfig = writeKubeconfig(api.url, TOKEN);
    // libnftables that fails on demand (the kernel rejects the transaction), to exercise failed commits.
    await runTool(['cc', '-shared', '-fPIC', '-o', shim, 'test/support/nft-fail-shim.c', '-ldl']);
    api.upsert(thisNode());
    api.upsert(serviceCIDRs());
  });
  afterEach(async () => {
    await agent?.kill();
    agent = undefined;
    rmSync(failFlag, { force: true });
  });
  afterAll(async () => {
    await api?.stop();
    await bed?.destroy();
    rmSync(shimDir, { recursive: true, force: true });
  });

  function run(extra: string[] = []): AgentProcess {
    agent = startAgentProcess(bed.topo.nodeNs, [
      `--kubeconfig=${kubeconfig}`, '--hostname-override=node-a', '--cluster-cidr=10.244.0.0/16,fd00:244::/32',
      '--min-sync-period=0', '--metrics-bind-address=0.0.0.0:10249', ...extra,
    ], { ...process.env, LD_PRELOAD: shim, SVCROUTER_NFT_FAIL: failFlag });
    return agent;
  }
  const reaches = async (pods: PodName[], f: 'v4' | 'v6' = 'v4') => {
    const o = await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(pods.length));
    return [...o.outcomes].join() === 'ok' && [...o.reached].sort().join() === pods.map((p) => ip(p, f)).sort().join();
  };
  const metric = async (name: string) => {
    const [, body] = await httpGetIn(bed.topo.nodeNs, 'http://127.0.0.1:10249/metrics');
    const line = body.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.split(' ').pop()) : NaN;
  };
  const tableExists = async () => (await netnsExec(bed.topo.nodeNs, ['nft', 'list', 'tables'])).includes('svcrouter');

  it('programs nothing until every first list is complete, then follows changes', async () => {
    await netnsExec(bed.topo.nodeNs, ['sh', '-c', 'nft delete table ip svcrouter; nft delete table ip6 svcrouter; true']);
    for (const o of web([{ pod: 'a1' }, { pod: 'b1' }])) api.upsert(o);
    api.failNext('EndpointSlice', 'list', 500, 10_000);
    const a = run();
    await a.waitForLog((l) => /list\/watch failed/.test(l.msg ?? ''));
    expect(await tableExists()).toBe(false); // a half-known cluster is never programmed
    expect((await httpGetIn(bed.topo.nodeNs, `http://127.0.0.1:10249/trace?from=${ip('cp', 'v4')}&to=${VIP.v4}:80`))[0]).toBe(503); // nor traced
    api.failNext('EndpointSlice', 'list', 500, 0);
    await a.waitForLog((l) => l.msg === 'synced');
    for (const f of FAMS) expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);

    for (const o of web([{ pod: 'a1' }, { pod: 'a2' }, { pod: 'b1' }, { pod: 'b2' }])) api.upsert(o);
    await until('scale up', () => reaches(['a1', 'a2', 'b1', 'b2']));
    for (const o of web([{ pod: 'a2' }, { pod: 'b2', ready: false, serving: true, terminating: true }])) api.upsert(o);
    await until('scale down with a terminating endpoint', () => reaches(['a2']));
    for (const o of web([{ pod: 'b2', ready: false, serving: true, terminating: true }])) api.upsert(o);
    await until('terminating fallback', () => reaches(['b2']));
    api.remove('Service', 'default', 'web');
    await until('service deleted', async () => [...(await connect(bed, 'cp', 'tcp', VIP.v4, 80, 1)).outcomes].join() === 'timeout');
  });

  it('recovers from dropped watches, 410 Gone and an API server restart, losing no rule', async () => {
    for (const o of web([{ pod: 'a1' }])) api.upsert(o);
    const a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    api.dropWatches();
    for (const o of web([{ pod: 'a2' }])) api.upsert(o);
    await until('after dropped watches', () => reaches(['a2']));
    // Down while things change, and back with its history gone: the watch gets 410 and relists.
    await api.stop();
    for (const o of web([{ pod: 'b1' }])) api.upsert(o);
    api.compactHistory();
    await api.restart();
    await until('after 410', () => reaches(['b1']));
    // b1 needs only the slices' relist; each watch reconnects after its own jittered backoff.
    await until('the services watch relists after 410', async () => (await metric('svcrouter_informer_relists_total{resource="services"}')) >= 1);
    await api.restart();
    for (const o of web([{ pod: 'a1' }, { pod: 'b1' }])) api.upsert(o);
    await until('after an API server restart', () => reaches(['a1', 'b1']));
  });

  it('deletes stale UDP conntrack entries: an endpoint gone, a service with its first endpoint', async () => {
    const udp = (name: string, vip: { v4: string; v6: string }, pods: PodName[]) => [
      service(name, { clusterIP: vip.v4, ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] }),
      slice(name, 'IPv4', [{ name: 'dns', protocol: 'UDP', port: POD_PORT }], pods.map((p) => ({ ip: ip(p, 'v4'), node: PODS[p].node }))),
    ];
    const flows = async (filter: string) => {
      const out = await netnsExec(bed.topo.nodeNs, ['sh', '-c', `conntrack -L -p udp ${filter} 2>/dev/null || true`]);
      return out.split('\n').filter((l) => l.startsWith('udp')).length;
    };
    const dns = { v4: '10.96.0.53', v6: '' };
    for (const o of udp('dns', dns, ['a1', 'a2'])) api.upsert(o);
    const a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    await connect(bed, 'cp', 'udp', dns.v4, 53, 16);
    expect(await flows(`--orig-dst ${dns.v4} --reply-src ${ip('a1', 'v4')}`)).toBeGreaterThan(0);
    for (const o of udp('dns', dns, ['a2'])) api.upsert(o);
    await until('flows answered by the removed endpoint are deleted', async () => (await flows(`--orig-dst ${dns.v4} --reply-src ${ip('a1', 'v4')}`)) === 0);
    expect(await flows(`--orig-dst ${dns.v4} --reply-src ${ip('a2', 'v4')}`)).toBeGreaterThan(0);
    // Flows to an address before it served anything (outside the ServiceCIDR, so routed on, not dropped).
    const fresh = { v4: '10.97.0.53', v6: '' };
    await connect(bed, 'cp', 'udp', fresh.v4, 53, 4, { timeoutMs: 300 });
    expect(await flows(`--orig-dst ${fresh.v4}`)).toBeGreaterThan(0);
    for (const o of udp('fresh', fresh, ['b1'])) api.upsert(o);
    await until('flows from before the service had an endpoint are deleted', async () => (await flows(`--orig-dst ${fresh.v4}`)) === 0);
    expectReached(await connect(bed, 'cp', 'udp', fresh.v4, 53, 3), [ip('b1', 'v4')], [ip('cp', 'v4')]);
    api.remove('Service', 'default', 'dns');
    api.remove('Service', 'default', 'fresh');
  });

  it('a restart after SIGKILL fails no connection', async () => {
    for (const o of web([{ pod: 'a1' }, { pod: 'b1' }])) api.upsert(o);
    let a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    const traffic = startTrafficLoop(bed, 'cp', 'tcp', VIP.v4, 80);
    await new Promise((r) => setTimeout(r, 500));
    await a.kill();
    a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    await new Promise((r) => setTimeout(r, 500));
    const tally = await traffic.stop();
    expect([...tally.outcomes.keys()]).toEqual(['ok']);
    expect(tally.ok).toBeGreaterThan(4);
  });

  it('a failing commit is counted, leaves the last rules in place, and a full resync follows', async () => {
    for (const o of [...web([{ pod: 'a1' }]), ...web([{ pod: 'b1' }], {}, 'other', { v4: '10.96.0.71', v6: 'fd00:96::71' })]) api.upsert(o);
    const a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    writeFileSync(failFlag, '');
    for (const o of web([{ pod: 'a2' }])) api.upsert(o);
    // The shim's failure: through nft, a set that does not exist; over netlink, a table that does not.
    await a.waitForLog((l) => /sync failed/.test(l.msg ?? '') && /injected-failure|ENOENT/.test(l.err ?? ''));
    expect(await metric('kubeproxy_sync_proxy_rules_nftables_sync_failures_total')).toBeGreaterThanOrEqual(1);
    expect(await reaches(['a1'])).toBe(true); // the committed rules are untouched
    expectReached(await connect(bed, 'cp', 'tcp', '10.96.0.71', 80, 4), [ip('b1', 'v4')], [ip('cp', 'v4')]);
    rmSync(failFlag);
    await a.waitForLog((l) => l.msg === 'synced' && l.mode === 'replace' && a.logs.some((x) => /sync failed/.test(x.msg ?? '')));
    await until('change applied after recovery', () => reaches(['a2']));
    // A poisoned update (a port out of range): reported and counted, the last valid version keeps serving.
    const poisoned = web([{ pod: 'a2' }])[0]!;
    api.upsert({ ...poisoned, spec: { ...(poisoned.spec as Raw), ports: [{ name: 'http', protocol: 'TCP', port: 70000 }] } });
    await a.waitForLog((l) => /invalid object skipped/.test(l.msg ?? '') && /spec\.ports\[0\]\.port/.test(l.msg));
    await until('the invalid object is counted', async () => (await metric('svcrouter_objects_invalid_total{kind="Service",reason="port_out_of_range"}')) >= 1);
    expect(await reaches(['a2'])).toBe(true);
    expectReached(await connect(bed, 'cp', 'tcp', '10.96.0.71', 80, 4), [ip('b1', 'v4')], [ip('cp', 'v4')]);
    api.remove('Service', 'default', 'other');
  });

  // Over 1,000 endpoints the resync writes rules only, else everything; either way the changes folded into
  // that sync must reach the kernel, the rules of a load-balancing chain they create included.
  for (const size of ['small', 'large'] as const) {
    it(`in a ${size} cluster, the periodic reassert commits the changes that fall in it, and no connection fails`, async () => {
      const far = Array.from({ length: size === 'large' ? 1100 : 0 }, (_, i) => ({ ip: `10.245.${i >> 8}.${i & 255}`, node: 'node-b' }));
      const big = size === 'small' ? [] : [
        service('big', { clusterIP: '10.96.0.72', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }),
        slice('big', 'IPv4', [{ name: 'http', protocol: 'TCP', port: POD_PORT }], far.slice(0, 600), '-a'),
        slice('big', 'IPv4', [{ name: 'http', protocol: 'TCP', port: POD_PORT }], far.slice(600), '-b'),
      ];
      for (const o of [...big, ...web([{ pod: 'a1' }])]) api.upsert(o);
      const a = run(['--sync-period=1s', '--min-sync-period=400ms']);
      await a.waitForLog((l) => l.msg === 'synced');
      const traffic = startTrafficLoop(bed, 'cp', 'tcp', VIP.v4, 80);
      // Someone else commits to nftables now and then (another table), so each periodic resync reasserts.
      let bystanding = true;
      const bystander = (async () => {
        while (bystanding) {
          await netnsExec(bed.topo.nodeNs, ['sh', '-c', 'nft add table inet bystander && nft delete table inet bystander']);
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      // Endpoint counts 1, 2, 3, ...: load-balancing chains come and go with them.
      const shapes: Ep[][] = [[{ pod: 'a1' }], [{ pod: 'a1' }, { pod: 'b1' }], [{ pod: 'a1' }, { pod: 'b1' }, { pod: 'a2' }]];
      let last = '';
      for (let i = 0; i < 24; i++) {
        for (const o of web(shapes[i % 3]!)) last = api.upsert(o);
        await new Promise((r) => setTimeout(r, 150));
      }
      const final = web(shapes[23 % 3]!);
      await a.waitForLog((l) => l.msg === 'synced' && Number(l.lastResourceVersion) >= Number(last), 20_000);
      bystanding = false;
      await bystander;
      const tally = await traffic.stop();
      expect(Object.fromEntries(tally.outcomes)).toEqual({ ok: tally.ok });
      const synced = a.logs.filter((l) => l.msg === 'synced');
      const carried = synced.filter((l, i) => i > 0 && l.mode === 'reassert' && Number(l.lastResourceVersion) > Number(synced[i - 1]!.lastResourceVersion));
      expect(carried.length).toBeGreaterThan(0);
      expect(a.logs.filter((l) => /sync failed|changed by someone else|differ from what svcrouter itself committed/.test(l.msg ?? ''))).toEqual([]);
      // The kernel holds exactly what a full render of the final state holds.
      const want = bed.compute([serviceCIDRs(), ...big, ...final]).tables;
      await withBareNamespaces(1, async ([bare]) => {
        await netnsExec(bare!, ['nft', '-f', '-'], renderTables(want));
        expect(await readTables(bed.topo.nodeNs)).toBe(await readTables(bare!));
      });
      expect(await reaches(['a1', 'b1', 'a2'])).toBe(true);
      for (const o of big) api.remove(o.kind as 'Service' | 'EndpointSlice', 'default', (o.metadata as Raw).name as string);
    });
  }

  it('the periodic resync writes nothing while nobody else commits; after someone does, it puts back what they changed', async () => {
    for (const o of web([{ pod: 'a1' }, { pod: 'b1' }])) api.upsert(o);
    const a = run(['--sync-period=1s']);
    await a.waitForLog((l) => l.msg === 'synced');
    const syncsFrom = (at: number) => a.logs.slice(at).filter((l) => l.msg === 'synced');
    const quietly = async () => {
      const at = a.logs.length;
      await new Promise((r) => setTimeout(r, 3500));
      const quiet = syncsFrom(at);
      expect(quiet.length).toBeGreaterThanOrEqual(2); // the resync still runs every period...
      expect(quiet.map((l) => [l.mode, l.operations])).toEqual(quiet.map(() => ['plan', 0])); // ...and writes nothing
    };
    await quietly();
    // An element of ours deleted: the tables' shape is unchanged, so only a reassert puts it back.
    const at = a.logs.length;
    const clusterIPs = () => netnsExec(bed.topo.nodeNs, ['nft', 'list', 'set', 'ip', 'svcrouter', 'cluster-ips']);
    await netnsExec(bed.topo.nodeNs, ['nft', 'delete', 'element', 'ip', 'svcrouter', 'cluster-ips', `{ ${VIP.v4} }`]);
    expect(await clusterIPs()).not.toContain(VIP.v4);
    await until('the element is put back', async () => (await clusterIPs()).includes(VIP.v4), 10_000);
    expect(syncsFrom(at).some((l) => l.mode === 'reassert')).toBe(true);
    expect(a.logs.filter((l) => /changed by someone else|sync failed/.test(l.msg ?? ''))).toEqual([]);
    await quietly();
  });

  it('svcrouter trace on the node asks the agent: what is programmed, skipped objects named; nobody off the node is answered', async () => {
    for (const o of web([{ pod: 'a1' }, { pod: 'b1' }])) api.upsert(o);
    const a = run();
    await a.waitForLog((l) => l.msg === 'synced');
    const trace = (...args: string[]) => netnsExec(bed.topo.nodeNs, [process.execPath, 'dist/cli/main.js', 'trace', ...args]);
    const flow = ['--from', ip('cp', 'v4'), '--to', `${VIP.v4}:80`, '--in-interface', bed.topo.podIface('cp')];
    expect(await trace(...flow)).toMatch(/\n=> DNAT to one of 2 endpoints of Service default\/web:http; source kept\n$/);
    const query = `from=${ip('cp', 'v4')}&to=${VIP.v4}:80&protocol=tcp&in-interface=${bed.topo.podIface('cp')}`;
    const [code, body] = await httpGetIn(bed.topo.nodeNs, `http://127.0.0.1:10249/trace?${query}`);
    expect(code).toBe(200);
    expect(JSON.parse(await trace(...flow, '-o', 'json'))).toEqual(JSON.parse(body));
    expect((await httpGetIn(bed.topo.nodeNs, 'http://127.0.0.1:10249/trace?from=x&to=10.96.0.70:80'))[0]).toBe(400);
    // A Service skipped as invalid is named as the reason its address is not served (but dropped as unallocated).
    api.upsert(service('broken', { clusterIP: '10.96.0.73', ports: [{ name: 'http', protocol: 'TCP', port: 70000 }] }));
    await a.waitForLog((l) => /invalid object skipped/.test(l.msg ?? '') && /default\/broken/.test(l.msg));
    await until('a sync after the skipped object', async () => /default\/broken was skipped/.test(await trace('--from', ip('cp', 'v4'), '--to', '10.96.0.73:80')));
    expect(await trace('--from', ip('cp', 'v4'), '--to', '10.96.0.73:80')).toMatch(/=> 10\.96\.0\.73 is inside the ServiceCIDR 10\.96\.0\.0\/16 but no Service has it: dropped; Service default\/broken was skipped as invalid \(spec\.ports\[0\]\.port: must be an integer in 1-65535, got 70000\)/);
    // The metrics listener is bound to every address here; /trace still answers only the node itself.
    const nodeSide = bed.topo.apiHost.replace(/\d+$/, (d) => String(Number(d) + 1));
    expect((await fetch(`http://${nodeSide}:10249/trace?${query}`)).status).toBe(403);
    expect((await fetch(`http://${nodeSide}:10249/proxyMode`)).status).toBe(200);
    api.remove('Service', 'default', 'broken');
  });

  it('answers /healthz, /livez, healthCheckNodePorts and /metrics in every state', async () => {
    api.upsert(thisNode());
    const lb = web([{ pod: 'a1' }, { pod: 'b1' }], {
      type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30070 }],
    });
    for (const o of lb) api.upsert(o);
    const a = run();
    const firstSync = await a.waitForLog((l) => l.msg === 'synced');
    const node = bed.topo.nodeNs;
    const [code, body] = await httpGetIn(node, 'http://127.0.0.1:10256/healthz');
    expect(code).toBe(200);
    expect(Object.keys(JSON.parse(body)).sort()).toEqual(['currentTime', 'healthy', 'lastUpdated', 'nodeEligible']);
    const [hcCode, hcBody] = await httpGetIn(node, `http://${ADDR.nodeIPv4}:32000/`);
    expect(hcCode).toBe(200);
    expect(JSON.parse(hcBody)).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 1, serviceProxyHealthy: true });
    for (const o of web([{ pod: 'b1' }], lb[0]!.spec as Raw)) api.upsert(o);
    await until('no local endpoint: 503', async () => (await httpGetIn(node, `http://${ADDR.nodeIPv4}:32000/`))[0] === 503);
    // A node being taken away by the autoscaler is not eligible for LB traffic: /healthz 503, /livez still 200.
    const tainted = thisNode();
    (tainted.spec as Raw).taints = [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }];
    api.upsert(tainted);
    await until('healthz 503 when tainted', async () => (await httpGetIn(node, 'http://127.0.0.1:10256/healthz'))[0] === 503);
    expect((await httpGetIn(node, 'http://127.0.0.1:10256/livez'))[0]).toBe(200);
    api.upsert(thisNode());
    await until('healthz back to 200', async () => (await httpGetIn(node, 'http://127.0.0.1:10256/healthz'))[0] === 200);
    // Metrics are there and move.
    const before = await metric('kubeproxy_sync_proxy_rules_duration_seconds_count');
    const programmedBefore = await metric('kubeproxy_network_programming_duration_seconds_count');
    // A trigger time after the agent started (older ones are not observed, as in kube-proxy), whole
    // seconds as the API serializes it, and over a second old when it is programmed.
    const triggerMs = Math.ceil(firstSync.time / 1000) * 1000;
    while (Date.now() < triggerMs + 1500) await new Promise((r) => setTimeout(r, 100));
    const trigger = new Date(triggerMs).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const o of web([{ pod: 'a2' }], lb[0]!.spec as Raw)) {
      if (o.kind === 'EndpointSlice') (o.metadata as Raw).annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': trigger };
      api.upsert(o);
    }
    await until('metrics move', async () => (await metric('kubeproxy_sync_proxy_rules_duration_seconds_count')) > before);
    // Network programming latency comes from the EndpointSlice controller's trigger time.
    await until('network programming observed', async () => (await metric('kubeproxy_network_programming_duration_seconds_count')) > programmedBefore);
    expect(await metric('kubeproxy_network_programming_duration_seconds_bucket{le="1"}')).toBe(programmedBefore);
    expect(await metric('kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    expect((await httpGetIn(node, 'http://127.0.0.1:10249/proxyMode'))[1]).toBe('nftables');
    // SIGTERM: a clean exit that leaves the rules in place.
    expect(await a.stop()).toBe(0);
    agent = undefined;
    expect(await tableExists()).toBe(true);
    api.remove('Service', 'default', 'web');
  });
});
