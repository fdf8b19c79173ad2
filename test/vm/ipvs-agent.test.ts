// `svcrouter run --proxy-mode ipvs` on a kernel with IPVS: the agent against
// the fake API server, with real traffic. It takes over what a previous run
// left, follows changes, drains a removed TCP endpoint while its connection
// lives, restarts (and waits out an unreachable API server) without a failed
// connection, and puts back what others delete.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { connect, createBed, expectReached, FAMS, ip, PODS, POD_PORT, sliceFamily, thisNode, triesFor, type Bed, type PodName } from '../support/bed.js';
import { service, slice, type Raw } from '../support/manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { httpGetIn, startAgentProcess, writeKubeconfig, type AgentProcess } from '../support/agent-process.js';
import { startTrafficLoop, type TrafficTally } from '../support/traffic-loop.js';
import { until } from '../support/until.js';
import type { TraceReport } from '../../src/trace/trace.js';

const e2e = requireKernel();
const TOKEN = 'ipvs-agent-token';
const VIP = { v4: '10.96.0.70', v6: 'fd00:96::70' };
/** A port whose pods keep TCP connections open (HOLD_PORT), for graceful termination. */
const HOLD_VIP = '10.96.0.71';
const HOLD_PORT = 9090;
const SYNC_PERIOD_MS = 3000;
const FLAGS = ['--proxy-mode=ipvs', '--hostname-override=node-a', '--cluster-cidr=10.244.0.0/16,fd00:244::/32',
  '--nodeport-addresses=192.168.50.0/24,fd00:50::/64'];
/** ipvsadm -Sn in the dump's order (README). */
const CANONICAL = `ipvsadm -Sn | awk '{k=$2" "$3; if ($4=="-6") k=k" -6"; print k"\\t"($1=="-A"?0:1)"\\t"$0}' | LC_ALL=C sort | cut -f3`;
const FOREIGN = '-A -t 192.0.2.80:80 -s rr';

function web(pods: PodName[]): Raw[] {
  return [
    service('web', { type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6], ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30070 }] }),
    ...FAMS.map((f) => slice('web', sliceFamily(f), [{ name: 'http', protocol: 'TCP', port: POD_PORT }], pods.map((p) => ({ ip: ip(p, f), node: PODS[p].node })))),
  ];
}

function hold(pods: PodName[]): Raw[] {
  return [
    service('hold', { clusterIP: HOLD_VIP, ports: [{ name: 'hold', protocol: 'TCP', port: 90 }] }),
    slice('hold', 'IPv4', [{ name: 'hold', protocol: 'TCP', port: HOLD_PORT }], pods.map((p) => ({ ip: ip(p, 'v4'), node: PODS[p].node }))),
  ];
}

/**
 * A server that answers as the bed's echo server does: its line, then the
 * connection closed (what probes wait for); unless the client says something
 * within a second, and then it echoes what it is sent and keeps the connection.
 */
const HOLD_SERVER = `const net = require('node:net'); const a = (x) => x.replace(/^::ffff:/, '');
net.createServer((c) => {
  c.on('error', () => {}); c.write(a(c.localAddress) + ' ' + c.localPort + ' ' + a(c.remoteAddress) + ' ' + c.remotePort + '\\n');
  const t = setTimeout(() => c.end(), 1000); c.on('data', (d) => { clearTimeout(t); c.write(d); });
}).listen(${HOLD_PORT}, '0.0.0.0', () => console.log('READY'));`;

/** One long-lived TCP connection (it says "hold" at once): prints every line it receives; stdin lines are sent, "rst" aborts it. */
const HOLD_CLIENT = `const net = require('node:net'); const c = net.connect({ host: '${HOLD_VIP}', port: 90 }); let buf = ''; c.write('hold\\n');
c.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { console.log(buf.slice(0, i)); buf = buf.slice(i + 1); } });
c.on('error', (e) => console.log('error ' + e.message)); c.on('close', () => console.log('closed'));
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => { if (l === 'rst') { c.resetAndDestroy(); setTimeout(() => process.exit(0), 100); } else c.write(l + '\\n'); });`;

interface LineProcess {
  readonly child: ChildProcess;
  next(ms?: number): Promise<string>;
  send(line: string): void;
}

function nodeIn(ns: string, script: string): LineProcess {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => { lines.push(l); wake?.(); });
  return {
    child,
    async next(ms = 60_000) {
      const deadline = Date.now() + ms;
      while (lines.length === 0) {
        if (Date.now() > deadline) throw new Error('no line from the process in time');
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      }
      return lines.shift()!;
    },
    send: (line) => child.stdin!.write(`${line}\n`),
  };
}

e2e('the agent in IPVS mode', () => {
  let bed: Bed;
  let api: FakeApiServer;
  let kubeconfig: string;
  const agents: AgentProcess[] = [];
  const holders: LineProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'svcrouter-ipvs-agent-'));

  beforeAll(async () => {
    bed = await createBed({ apiLink: true, podPorts: [POD_PORT] });
    api = await startFakeApiServer({ host: bed.topo.apiHost, token: TOKEN, bookmarkIntervalMs: 1000 });
    kubeconfig = writeKubeconfig(api.url, TOKEN);
    api.upsert(thisNode());
    for (const o of [...web(['a1', 'b1']), ...hold(['a1', 'b1'])]) api.upsert(o);
    for (const p of ['a1', 'b1'] as const) {
      const server = nodeIn(bed.topo.podNs(p), HOLD_SERVER);
      holders.push(server);
      expect(await server.next()).toBe('READY');
    }
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill();
    await api.restart(); // a case may leave it stopped
  });
  afterAll(async () => {
    for (const h of holders) h.child.kill();
    await api?.stop();
    await bed?.destroy();
  });

  function run(syncPeriodMs = SYNC_PERIOD_MS): AgentProcess {
    const a = startAgentProcess(bed.topo.nodeNs, [`--kubeconfig=${kubeconfig}`, ...FLAGS, '--min-sync-period=0', `--ipvs-sync-period=${syncPeriodMs}ms`]);
    agents.push(a);
    return a;
  }
  const synced = (a: AgentProcess, ms = 120_000) => a.waitForLog((l) => l.msg === 'synced', ms);
  const followed = async (a: AgentProcess, what: string, cond: () => Promise<boolean>, ms = 60_000) => {
    try {
      await until(what, cond, ms);
    } catch (e) {
      const warnings = a.logs.filter((l) => l.level >= 40).slice(-5);
      throw new Error(`${(e as Error).message}; the agent's last lines: ${JSON.stringify(a.logs.slice(-4))}; its last warnings: ${JSON.stringify(warnings)}; `
        + `the kernel:\n${await kernel()}\nthe dump:\n${await wanted()}`);
    }
  };
  const kernel = async () => (await bed.topo.exec(bed.topo.nodeNs, CANONICAL)).trim();
  /** What dump --ipvsadm prints for the API server's objects now, with the foreign virtual server some other software keeps. */
  const wanted = async () => {
    const file = join(dir, 'cluster.json');
    const items = [thisNode(), ...(['Service', 'EndpointSlice'] as const).flatMap((k) => api.list(k))];
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    const dump = await netnsExec(bed.topo.nodeNs, [process.execPath, 'dist/cli/main.js', 'dump', '--ipvsadm', '-f', file, ...FLAGS]);
    return [...dump.split('\n').filter(Boolean), FOREIGN].sort(ipvsadmOrder).join('\n').trim();
  };
  /** The kernel holds what the dump says, but for real servers still draining (weight 0) from the endpoints a change removed. */
  const holdsCluster = async () => (await kernel()).split('\n').filter((l) => !/^-a .* -w 0$/.test(l)).join('\n') === (await wanted());
  const expectNoFailure = (t: TrafficTally) => {
    expect(Object.fromEntries(t.outcomes)).toEqual({ ok: t.ok });
    expect(t.ok).toBeGreaterThan(8);
  };

  it('takes over what a previous run left, programs what dump --ipvsadm prints, and follows changes', async () => {
    await bed.topo.exec(bed.topo.nodeNs, [
      'modprobe ip_vs', 'ip link add svcrouter-ipvs0 type dummy',
      `ipvsadm ${FOREIGN}`, // someone else's, on no address of ours
      'ipvsadm -A -t 10.96.0.99:80 -s rr && ip addr add 10.96.0.99/32 dev svcrouter-ipvs0', // ours, from a service gone meanwhile
    ].join(' && '));
    const a = run();
    await synced(a);
    expect(await kernel()).toBe(await wanted());
    expect(await bed.topo.exec(bed.topo.nodeNs, 'ip -o addr show dev svcrouter-ipvs0')).not.toContain('10.96.0.99');
    // From now on every connection is checked against the agent's own /trace.
    bed.traceThroughAgent();
    for (const f of FAMS) expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);
    for (const o of web(['a1', 'a2', 'b1'])) api.upsert(o);
    await followed(a, 'the new endpoint is programmed', holdsCluster);
    for (const f of FAMS) expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(3)), [ip('a1', f), ip('a2', f), ip('b1', f)], [ip('cp', f)]);
    // `svcrouter trace` on the node asks the agent, which names the virtual server too.
    const trace = JSON.parse(await netnsExec(bed.topo.nodeNs, [process.execPath, 'dist/cli/main.js', 'trace', '--from', ip('cp', 'v4'), '--to', `${VIP.v4}:80`, '-o', 'json'])) as TraceReport;
    expect({ verdict: trace.verdict, endpoints: [...trace.endpoints].sort(), ipvs: trace.ipvs }).toEqual({
      verdict: 'dnat', endpoints: (['a1', 'a2', 'b1'] as const).map((p) => `${ip(p, 'v4')}:${POD_PORT}`).sort(),
      ipvs: { virtualServer: `-t ${VIP.v4}:80`, scheduler: 'rr', persistence: 0 },
    });
  });

  it('drains a removed TCP endpoint: its open connection lives on at weight 0, new ones go elsewhere, then it is deleted', async () => {
    for (const o of hold(['a1', 'b1'])) api.upsert(o);
    const a = run();
    await synced(a);
    const client = nodeIn(bed.topo.podNs('cp'), HOLD_CLIENT);
    try {
      const landed = (await client.next()).split(' ')[0]!;
      expect(await client.next()).toBe('hold');
      const gone = (['a1', 'b1'] as const).find((p) => ip(p, 'v4') === landed)!;
      const stays = gone === 'a1' ? 'b1' : 'a1';
      for (const o of hold([stays])) api.upsert(o);
      const rs = `-a -t ${HOLD_VIP}:90 -r ${landed}:${HOLD_PORT} -m -w`;
      await followed(a, 'the removed endpoint drains at weight 0', async () => (await kernel()).includes(`${rs} 0`));
      client.send('still there?');
      expect(await client.next(10_000)).toBe('still there?');
      const fresh = await bed.probe('cp', Array.from({ length: 12 }, () => ({ proto: 'tcp' as const, addr: HOLD_VIP, port: 90, timeoutMs: 3000 })));
      expect(fresh.map((r) => (r.outcome === 'ok' ? r.reply.localAddr : r.outcome))).toEqual(fresh.map(() => ip(stays, 'v4')));
      // Aborted, the connection leaves IPVS's table after its CLOSE timeout (10 s); the drain check then deletes the server.
      client.send('rst');
      await followed(a, 'the drained endpoint is deleted', async () => !(await kernel()).includes(rs), 90_000);
      expect(await holdsCluster()).toBe(true);
    } finally {
      client.child.kill();
    }
  });

  it('restarts without a failed connection, and while the API server is unreachable touches nothing', async () => {
    await synced(run());
    const traffic = startTrafficLoop(bed, 'cp', 'tcp', VIP.v4, 80);
    try {
      const before = await kernel();
      expect(await agents.pop()!.stop()).toBe(0); // SIGTERM: the rules stay
      const left = await kernel();
      expect(left).toBe(before);
      await api.stop();
      const b = run();
      await b.waitForLog((l) => /^waiting for the API server/.test(l.msg ?? ''), 60_000);
      await new Promise((r) => setTimeout(r, 2 * SYNC_PERIOD_MS + 1000));
      expect(b.logs.filter((l) => l.msg === 'synced')).toEqual([]);
      expect(await kernel()).toBe(left);
      await api.restart();
      await synced(b);
      for (const o of web(['a1', 'b1', 'b2'])) api.upsert(o);
      await followed(b, 'a change after the outage is programmed', holdsCluster);
    } finally {
      expectNoFailure(await traffic.stop());
    }
  });

  it('puts back what others delete: the helper table at once, the IPVS table and the dummy link at the next resync', async () => {
    // A resync period long enough to tell the helper table's watch (every second) from it.
    const period = 30_000;
    const a = run(period);
    await synced(a);
    const restores = async () => {
      const [, body] = await httpGetIn(bed.topo.nodeNs, 'http://127.0.0.1:10249/metrics');
      return Number(body.split('\n').find((l) => l.startsWith('svcrouter_tamper_restores_total'))?.split(' ').pop() ?? 0);
    };
    const reachable = async () => {
      const r = await bed.probe('cp', Array.from({ length: 8 }, () => ({ proto: 'tcp' as const, addr: VIP.v4, port: 80, timeoutMs: 2000 })));
      return r.every((x) => x.outcome === 'ok');
    };
    const cases: [string, string, () => Promise<boolean>, number][] = [
      ['nft delete table ip svcrouter', 'the helper table', async () => (await restores()) === 1 && (await bed.topo.exec(bed.topo.nodeNs, 'nft list tables')).includes('ip svcrouter'), (2 * period) / 3],
      [`ipvsadm -D -t ${VIP.v4}:80 && ipvsadm -d -t ${HOLD_VIP}:90 -r ${ip('a1', 'v4')}:${HOLD_PORT}`, 'the IPVS table', holdsCluster, period + 30_000],
      ['ip link del svcrouter-ipvs0', 'the dummy link and its addresses', async () => (await bed.topo.exec(bed.topo.nodeNs, 'ip -o addr show dev svcrouter-ipvs0 2>&1 || true')).includes(VIP.v4), period + 30_000],
    ];
    for (const o of hold(['a1', 'b1'])) api.upsert(o);
    await followed(a, 'the cluster is programmed', holdsCluster);
    for (const [cmd, what, restored, within] of cases) {
      await bed.topo.exec(bed.topo.nodeNs, cmd);
      const t0 = Date.now();
      await followed(a, `${what} is restored`, async () => (await restored()) && (await holdsCluster()) && reachable(), within);
      console.log(`restored ${what} after ${cmd}: ${Date.now() - t0} ms`);
    }
  });
});

/** The order of CANONICAL: by service argument, -A before its -a lines, then bytes. */
function ipvsadmOrder(x: string, y: string): number {
  const key = (l: string) => {
    const f = l.split(' ');
    return `${f[1]} ${f[2]}${f[3] === '-6' ? ' -6' : ''}\t${f[0] === '-A' ? 0 : 1}\t${l}`;
  };
  const [a, b] = [key(x), key(y)];
  return a < b ? -1 : a > b ? 1 : 0;
}
