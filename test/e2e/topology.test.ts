// Sanity checks for the namespace test topology itself, with no svcrouter rules
// loaded: if these fail, service e2e failures mean nothing.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { netnsExec, requireKernel, sh } from '../support/netns.js';
import { startFakeApiServer } from '../support/fake-apiserver.js';
import { ADDR, createTopology, type Probe, type ProbeResult, type Topology } from '../support/topology.js';

const e2e = requireKernel();

const A = { name: 'a', ipv4: '10.244.1.10', ipv6: 'fd00:244:1::10', ports: [8080, 5353] };
const B = { name: 'b', ipv4: '10.244.2.20', ipv6: 'fd00:244:2::20', ports: [8080] };
const CLOSED_PORT = 9999;
// Dropped in the node's prerouting hook (see the timeout test): silence, not an error.
const DROPPED_V4 = '10.244.9.9';
const DROPPED_V6 = 'fd00:244:9::9';

/** For each pod IP, tcp+udp probes to `port`. */
function bothProtos(addrs: string[], port: number, extra: Partial<Probe> = {}): Probe[] {
  return addrs.flatMap((addr) => [
    { proto: 'tcp' as const, addr, port, ...extra },
    { proto: 'udp' as const, addr, port, ...extra },
  ]);
}

function expectOk(results: ProbeResult[], probes: Probe[], peerAddr: (p: Probe) => string) {
  const seen = results.map((r, i) => ({ probe: probes[i], r }));
  const want = probes.map((p) => ({
    probe: p,
    r: { outcome: 'ok', reply: { localAddr: p.addr, localPort: p.port, peerAddr: peerAddr(p), peerPort: expect.any(Number) } },
  }));
  expect(seen).toEqual(want);
}

e2e('test topology (no svcrouter rules)', () => {
  let t: Topology;

  beforeAll(async () => {
    t = await createTopology({ pods: [A, B] });
  }, 30_000);

  afterAll(async () => {
    if (!t) return;
    await t.destroy();
    await t.destroy(); // must be idempotent
    const left = await sh('ip netns list');
    expect(left).not.toContain(`${t.prefix}-`);
  });

  it('client reaches pod IPs over tcp/udp, v4/v6, and pods see the client source', async () => {
    const probes = [...bothProtos([A.ipv4, A.ipv6, B.ipv4, B.ipv6], 8080), ...bothProtos([A.ipv4, A.ipv6], 5353)];
    const results = await t.probe(t.clientNs, probes);
    expectOk(results, probes, (p) => (p.addr.includes(':') ? ADDR.clientIPv6 : ADDR.clientIPv4));
  });

  it('closed ports give refused for tcp and udp, also many udp probes at once (no ICMP rate limit)', async () => {
    const probes = bothProtos([A.ipv4, A.ipv6, B.ipv4, B.ipv6], CLOSED_PORT);
    for (let i = 0; i < 20; i++) probes.push({ proto: 'udp', addr: i % 2 ? A.ipv6 : A.ipv4, port: CLOSED_PORT + 1 + i });
    const results = await t.probe(t.clientNs, probes);
    expect(results).toEqual(probes.map(() => ({ outcome: 'refused' })));
  });

  it('dropped traffic gives timeout', async () => {
    await t.exec(
      t.nodeNs,
      `nft -f - <<'EOF'
table inet droptest {
  chain pre {
    type filter hook prerouting priority 0;
    ip daddr ${DROPPED_V4} drop
    ip6 daddr ${DROPPED_V6} drop
  }
}
EOF`,
    );
    try {
      const probes = bothProtos([DROPPED_V4, DROPPED_V6], 8080, { timeoutMs: 600 });
      const results = await t.probe(t.clientNs, probes);
      expect(results).toEqual(probes.map(() => ({ outcome: 'timeout' })));
    } finally {
      await t.exec(t.nodeNs, 'nft delete table inet droptest');
    }
  });

  it('unroutable destination gives an error, not a timeout', async () => {
    // The node has no route (and no default route) for this: it answers ICMP net unreachable.
    const [r] = await t.probe(t.clientNs, [{ proto: 'tcp', addr: '10.99.0.1', port: 80 }]);
    expect(r).toMatchObject({ outcome: 'error', message: expect.stringMatching(/^E(NET|HOST)UNREACH/) });
  });

  it('src binds secondary and off-subnet client addresses', async () => {
    const sources: Array<[string, string]> = [
      [ADDR.clientOtherIPv4, A.ipv4],
      [ADDR.clientIPv4b, A.ipv4],
      [ADDR.clientOtherIPv6, A.ipv6],
      [ADDR.clientIPv6b, A.ipv6],
    ];
    const probes = sources.flatMap(([src, addr]) => bothProtos([addr], 8080, { src }));
    const results = await t.probe(t.clientNs, probes);
    expectOk(results, probes, (p) => p.src!);
  });

  it('pod to pod', async () => {
    const probes = bothProtos([B.ipv4, B.ipv6], 8080);
    const results = await t.probe(t.podNs('a'), probes);
    expectOk(results, probes, (p) => (p.addr.includes(':') ? A.ipv6 : A.ipv4));
  });

  it('node to pod uses the node address as source', async () => {
    const probes = bothProtos([A.ipv4, A.ipv6, B.ipv4, B.ipv6], 8080);
    const results = await t.probe(t.nodeNs, probes);
    expectOk(results, probes, (p) => (p.addr.includes(':') ? ADDR.nodeIPv6 : ADDR.nodeIPv4));
  });

  it('has no API link unless asked for', () => {
    expect(() => t.apiHost).toThrow(/apiLink/);
  });
});

e2e('test topology API link (root ns <-> node ns)', () => {
  let t: Topology;

  beforeAll(async () => {
    t = await createTopology({ pods: [], apiLink: true });
  }, 30_000);

  afterAll(async () => {
    if (!t) return;
    await t.destroy();
    await expect(sh(`ip link show ${t.prefix}api`)).rejects.toThrow();
    expect(await sh('ip netns list')).not.toContain(`${t.prefix}-`);
  });

  it('uses a private /30 from 10.254.0.0/16 with only the connected route on each side', async () => {
    const m = /^10\.254\.(\d+)\.(\d+)$/.exec(t.apiHost);
    expect(m, t.apiHost).not.toBeNull();
    expect(Number(m![2]) % 4).toBe(1);
    const nodeAddr = t.apiHost.replace(/\d+$/, (d) => String(Number(d) + 1));
    const net = t.apiHost.replace(/\d+$/, (d) => String(Number(d) - 1));
    expect(await sh(`ip -4 -o addr show dev ${t.prefix}api`)).toContain(`inet ${t.apiHost}/30`);
    expect(await t.exec(t.nodeNs, 'ip -4 -o addr show dev api0')).toContain(`inet ${nodeAddr}/30`);
    for (const routes of [await sh(`ip -4 route show dev ${t.prefix}api`), await t.exec(t.nodeNs, 'ip -4 route show dev api0')]) {
      expect(routes.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${net.replaceAll('.', '\\.')}/30 proto kernel scope link`))]);
    }
  });

  it('a process in the node ns lists services from a fake API server on apiHost', async () => {
    const api = await startFakeApiServer({ host: t.apiHost, port: 0, token: 'tok' });
    try {
      api.upsert({ kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.1' } });
      const script =
        "fetch(process.argv[1], { headers: { authorization: 'Bearer tok' } })" +
        '.then((r) => r.text()).then((b) => console.log(b), (e) => { console.error(e); process.exit(1); })';
      const out = await netnsExec(t.nodeNs, [process.execPath, '-e', script, `${api.url}/api/v1/services`]);
      const list = JSON.parse(out);
      expect(list).toMatchObject({ kind: 'ServiceList', items: [{ metadata: { name: 'web', namespace: 'default' } }] });
      expect(api.requests.at(-1)?.headers.authorization).toBe('Bearer tok');
    } finally {
      await api.stop();
    }
  });
});
