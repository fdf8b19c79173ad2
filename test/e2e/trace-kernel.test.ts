// trace against the kernel, on random clusters, configurations and flows: the
// cluster's rendered ruleset is loaded into the bed's node, each flow is sent
// for real from the client, a pod or the node, and conntrack says what the
// kernel did with it (DNAT to which endpoints, masquerade or not, passed
// untouched); flows it kept no entry for were rejected (refused) or dropped
// (silence). The trace of every flow must say the same.
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { netnsExec, requireKernel } from '../support/netns.js';
import { clusterArb } from '../support/arbitrary-cluster.js';
import { ADDR, createBed, flowFrom, type Bed, type From } from '../support/bed.js';
import type { FlagValues } from '../../src/config/load.js';
import type { ProxyState } from '../../src/state/types.js';
import { hostPort } from '../../src/trace/flow.js';
import type { TraceReport } from '../../src/trace/trace.js';
import type { Probe, ProbeResult } from '../support/topology.js';

const e2e = requireKernel();

const CONFIGS: FlagValues[] = [
  {}, { masqueradeAll: true }, { detectLocalMode: 'NodeCIDR' }, { clusterCidr: '' },
  { detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: 'v' },
  { nodeportAddresses: '192.168.50.0/24,fd00:50::/64' }, { nodeportAddresses: '0.0.0.0/0,::/0' },
];

// The arbitrary clusters' node is 192.168.50.1 or .2; their endpoints are 10.244.{1,2}.1-6, of which
// host 1 of either node is also an address of the client pod "cp", so that it can reach itself (hairpin).
const SECOND_NODE = { v4: '192.168.50.2', v6: 'fd00:50::2' };
const SELF = { v4: ['10.244.1.1', '10.244.2.1'], v6: ['fd00:244:1::1', 'fd00:244:2::1'] };

interface Sender { from: From; src: string }
const SENDERS: Record<'v4' | 'v6', Sender[]> = {
  v4: [
    { from: 'client', src: ADDR.clientIPv4 }, { from: 'client', src: ADDR.clientOtherIPv4 }, { from: 'cp', src: '10.244.1.100' },
    ...SELF.v4.map((src) => ({ from: 'cp' as const, src })), { from: 'node', src: ADDR.nodeIPv4 },
  ],
  v6: [
    { from: 'client', src: ADDR.clientIPv6 }, { from: 'client', src: ADDR.clientOtherIPv6 }, { from: 'cp', src: 'fd00:244:1::100' },
    ...SELF.v6.map((src) => ({ from: 'cp' as const, src })), { from: 'node', src: ADDR.nodeIPv6 },
  ],
};

interface Flow { sender: Sender; addr: string; port: number; proto: 'tcp' | 'udp' }

/** Every address and port the cluster answers on, near misses (another port, another address) too. */
function destinations(state: ProxyState): Omit<Flow, 'sender'>[] {
  const out: Omit<Flow, 'sender'>[] = [];
  for (const sp of state.servicePorts.values()) {
    if (sp.protocol === 'sctp') continue;
    const proto = sp.protocol;
    const v = sp.family === 'ipv4' ? 'v4' : 'v6';
    for (const addr of [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs]) out.push({ addr, port: sp.port, proto });
    if (sp.nodePort) for (const addr of [v === 'v4' ? ADDR.nodeIPv4 : ADDR.nodeIPv6, SECOND_NODE[v]]) out.push({ addr, port: sp.nodePort, proto });
    out.push({ addr: sp.clusterIP, port: 82, proto });
  }
  // Unallocated inside the ServiceCIDR, outside it, and LB IPs whether programmed or not (ipMode Proxy).
  out.push({ addr: '10.96.0.99', port: 80, proto: 'tcp' }, { addr: 'fd00:96::99', port: 80, proto: 'udp' }, { addr: '10.97.0.1', port: 80, proto: 'tcp' });
  for (let id = 0; id < 6; id++) out.push({ addr: `198.51.100.${10 + id}`, port: 80, proto: id % 2 ? 'udp' : 'tcp' });
  return out;
}

/** The node's own UDP, rejected or dropped. */
const STOPPED = 'reject or drop';

/** What the kernel did with a flow, in the trace's terms. */
interface Seen {
  verdict: string;
  /** DNAT: "endpoint masqueraded?" for each endpoint reached; accept: whether masqueraded. */
  detail: string[];
}

const key = (proto: string, src: string, dst: string, dport: number) => `${proto} ${src} ${dst} ${dport}`;

/** conntrack's entries by original (proto, src, dst, dport): where each went, and whether its source was NATed. */
async function conntrack(ns: string): Promise<Map<string, { endpoint: string; dnat: boolean; snat: boolean }[]>> {
  const list = async (args: string[]) => {
    const out: string[] = [];
    for (const f of ['ipv4', 'ipv6']) out.push(...(await netnsExec(ns, ['conntrack', '-L', '-f', f, ...args])).split('\n'));
    return out.map((l) => /^(tcp|udp)\s.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) .*?src=(\S+) dst=\S+ sport=(\d+) /.exec(l))
      .filter((m) => m !== null).map(([, proto, src, dst, sport, dport, replySrc, replySport]) => ({
        flow: key(proto!, src!, dst!, Number(dport)), entry: `${proto} ${src} ${sport} ${dst} ${dport}`,
        endpoint: hostPort(replySrc!, Number(replySport)), dnat: replySrc !== dst || replySport !== dport,
      }));
  };
  const snat = new Set((await list(['--src-nat'])).map((e) => e.entry));
  const out = new Map<string, { endpoint: string; dnat: boolean; snat: boolean }[]>();
  for (const e of await list([])) out.set(e.flow, [...(out.get(e.flow) ?? []), { endpoint: e.endpoint, dnat: e.dnat, snat: snat.has(e.entry) }]);
  return out;
}

/** Sends every flow (many connections each, so that every endpoint of a DNAT is met), and reads what the kernel did. */
async function observe(bed: Bed, flows: Flow[]): Promise<Seen[]> {
  const send = async (timeoutMs: number, tries: number, which: Flow[]): Promise<Map<Flow, ProbeResult[]>> => {
    const bySender = new Map<From, Flow[]>();
    for (const f of which) bySender.set(f.sender.from, [...(bySender.get(f.sender.from) ?? []), f]);
    const results = new Map<Flow, ProbeResult[]>();
    await Promise.all([...bySender].map(async ([from, fs]) => {
      const probes: Probe[] = fs.flatMap((f) => Array.from({ length: tries }, () => ({ proto: f.proto, addr: f.addr, port: f.port, src: f.sender.src, timeoutMs })));
      const rs = await bed.probe(from, probes);
      fs.forEach((f, i) => results.set(f, rs.slice(i * tries, (i + 1) * tries)));
    }));
    return results;
  };
  const first = await send(50, 80, flows);
  const entries = await conntrack(bed.topo.nodeNs);
  const flowEntries = (f: Flow) => entries.get(key(f.proto, f.sender.src, f.addr, f.port)) ?? [];
  const outcomes = (rs: ProbeResult[]) => new Set(rs.map((r) => (r.outcome === 'error' ? r.message.split(':')[0]! : r.outcome)));
  // Not DNATed: the outcomes tell. The node answers on every port, so a packet delivered to it is
  // answered. A refusal is a reject (even with an entry: the node's own packets get one before they
  // come back in to be checked on input); the node's own UDP cannot tell a reject from a drop, its
  // send fails with EPERM either way. Silence is sent again, waiting longer: TCP notes an ICMPv6
  // error and waits for its retransmitted SYN to be refused. Silence then is a packet passed on
  // (with an entry) or a drop.
  const silent = flows.filter((f) => !flowEntries(f).some((e) => e.dnat) && [...outcomes(first.get(f)!)].every((o) => o === 'timeout'));
  const second = await send(1500, 2, silent);
  return flows.map((f) => {
    const es = flowEntries(f);
    if (es.some((e) => e.dnat)) {
      if (es.some((e) => !e.dnat)) return { verdict: 'some DNATed, some not', detail: es.map((e) => e.endpoint) };
      // Per endpoint: the node's own connection, masqueraded to its own address, keeps its port
      // (no NAT recorded then) once in 64k, as the random port picked may be the one it had.
      const endpoints = [...new Set(es.map((e) => e.endpoint))];
      return { verdict: 'dnat', detail: endpoints.map((ep) => `${ep} masquerade ${es.some((e) => e.endpoint === ep && e.snat)}`).sort() };
    }
    const o = outcomes(second.get(f) ?? first.get(f)!);
    if (o.has('refused')) return { verdict: 'reject', detail: [] };
    if (o.has('EPERM')) return { verdict: STOPPED, detail: [] };
    if (o.has('ok') || es.length > 0) return { verdict: 'accept', detail: [`masquerade ${es.some((e) => e.snat)}`] };
    return { verdict: o.size === 1 && o.has('timeout') ? 'drop' : `unexplained: ${[...o].join(', ')}`, detail: [] };
  });
}

/**
 * The trace's prediction, in the same terms. With affinity, clients keep to the
 * endpoints they met first: those need only be candidates.
 */
function predicted(t: TraceReport, seen: Seen): Seen {
  if (t.verdict === 'accept') return { verdict: 'accept', detail: [`masquerade ${t.masquerade}`] };
  if (t.verdict !== 'dnat') return { verdict: seen.verdict === STOPPED ? STOPPED : t.verdict, detail: [] };
  const all = t.endpoints.map((ep) => `${ep} masquerade ${t.masquerade || t.hairpin.includes(ep)}`).sort();
  const kept = t.affinity > 0 && seen.verdict === 'dnat' && seen.detail.every((d) => all.includes(d));
  return { verdict: 'dnat', detail: kept ? seen.detail : all };
}

e2e('trace agrees with the kernel', () => {
  let bed: Bed;
  let flowsChecked = 0;
  beforeAll(async () => {
    // Every port a flow may be sent to is answered (by the node; by the pods for endpoints'
    // ports): a TCP connection refused would leave conntrack no entry.
    bed = await createBed({
      nodePorts: [80, 81, 82, ...[0, 100].flatMap((base) => Array.from({ length: 6 }, (_, i) => 30000 + base + i))],
      podPorts: [8080, 8081],
    });
    const iface = bed.topo.podIface('cp');
    await bed.topo.exec(bed.topo.nodeNs, [
      `ip addr add ${SECOND_NODE.v4}/24 dev eth0`, `ip addr add ${SECOND_NODE.v6}/64 dev eth0 nodad preferred_lft 0`,
      ...SELF.v4.map((a) => `ip route add ${a}/32 dev ${iface} src ${ADDR.nodeIPv4}`),
      ...SELF.v6.map((a) => `ip -6 route add ${a}/128 dev ${iface} src ${ADDR.nodeIPv6}`),
    ].join(' && '));
    await bed.topo.exec(bed.topo.podNs('cp'), [...SELF.v4.map((a) => `ip addr add ${a}/32 dev eth0`), ...SELF.v6.map((a) => `ip addr add ${a}/128 dev eth0 nodad preferred_lft 0`)].join(' && '));
    // Load-balancer and external IPs are routed to the node, as an upstream router would.
    await bed.topo.exec(bed.topo.clientNs, `ip route add 198.51.100.0/24 via ${ADDR.nodeIPv4} && ip route add 203.0.113.0/24 via ${ADDR.nodeIPv4}`);
  });
  afterAll(async () => {
    await bed?.destroy();
    console.log(`trace agrees with the kernel: ${flowsChecked} flows checked`);
  });

  it('on every flow of random clusters: verdict, endpoints, masquerade', async () => {
    const picks = fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 6, maxLength: 12 });
    await fc.assert(fc.asyncProperty(clusterArb, fc.constantFrom(...CONFIGS), picks, async (cluster, flags, chosen) => {
      const loaded = await bed.load(cluster.map((o) => o.raw), flags);
      const dsts = destinations(loaded.build.state);
      const flows = new Map<string, Flow>();
      for (const [d, s] of chosen) {
        const dst = dsts[d % dsts.length]!;
        const senders = SENDERS[dst.addr.includes(':') ? 'v6' : 'v4'];
        const flow = { ...dst, sender: senders[s % senders.length]! };
        flows.set(key(flow.proto, flow.sender.src, flow.addr, flow.port), flow);
      }
      const list = [...flows.values()];
      const seen = await observe(bed, list);
      for (const [i, f] of list.entries()) {
        const t = await bed.trace(flowFrom(bed, f.sender.from, f.sender.src, f.proto, f.addr, f.port));
        expect({ flow: `${f.proto} ${f.sender.src} -> ${hostPort(f.addr, f.port)}`, ...seen[i]! }, JSON.stringify(t))
          .toEqual({ flow: `${f.proto} ${f.sender.src} -> ${hostPort(f.addr, f.port)}`, ...predicted(t!, seen[i]!) });
        flowsChecked++;
      }
    }), { numRuns: 6, endOnFailure: true });
  });
});
