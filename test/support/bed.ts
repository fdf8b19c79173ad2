// The kernel test bed: a topology (client, node, pods) plus the means to
// program the node from manifests through svcrouter's real pipeline and to
// observe where connections land. Every connection is also traced, through
// what was loaded or by asking the running agent, and the trace must predict
// what the kernel did: one expectation, checked against both.
import { expect } from 'vitest';
import { createTopology, ADDR, type Probe, type ProbeResult, type Topology } from './topology.js';
import { netnsExec } from './netns.js';
import { clusterFrom, scriptFor, traceDecided, type Loaded } from '../../src/cli/pipeline.js';
import { loadConfig, type FlagValues } from '../../src/config/load.js';
import { formatIpvsadm } from '../../src/backends/ipvs/ipvsadm.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { DUMMY_LINK, type IpvsPlan } from '../../src/backends/ipvs/model.js';
import { ipvsSysctls } from '../../src/backends/ipvs/sysctls.js';
import { desiredIpvs } from '../../src/backends/ipvs/desired.js';
import type { HostAddresses } from '../../src/backends/ipvs/family.js';
import { release } from 'node:os';
import { flowQuery, hostPort, parseFlow, type FlowArgs } from '../../src/trace/flow.js';
import { DEFAULT_AGENT } from '../../src/cli/trace.js';
import type { TraceReport } from '../../src/trace/trace.js';
import { node, type Raw } from './manifests.js';

export { ADDR };

/** Pods of the bed: a* are on this node (node-a, zone z1), b* on node-b (zone z2). */
export const PODS = {
  a1: { v4: '10.244.1.11', v6: 'fd00:244:1::11', node: 'node-a', zone: 'z1' },
  a2: { v4: '10.244.1.12', v6: 'fd00:244:1::12', node: 'node-a', zone: 'z1' },
  b1: { v4: '10.244.2.21', v6: 'fd00:244:2::21', node: 'node-b', zone: 'z2' },
  b2: { v4: '10.244.2.22', v6: 'fd00:244:2::22', node: 'node-b', zone: 'z2' },
  /** A client pod on this node; also an endpoint for hairpin tests. */
  cp: { v4: '10.244.1.100', v6: 'fd00:244:1::100', node: 'node-a', zone: 'z1' },
} as const;
export type PodName = keyof typeof PODS;
export const POD_PORT = 8080;

export type Fam = 'v4' | 'v6';
export const FAMS: Fam[] = ['v4', 'v6'];
export const sliceFamily = (f: Fam) => (f === 'v4' ? 'IPv4' : 'IPv6') as 'IPv4' | 'IPv6';

/**
 * The data plane the traffic suites program: nftables, or with
 * SVCROUTER_E2E_PROXY_MODE=ipvs (test/vm/, on a kernel with IPVS) IPVS mode.
 */
export const PROXY_MODE = process.env.SVCROUTER_E2E_PROXY_MODE === 'ipvs' ? 'ipvs' : 'nftables';

export const BASE_FLAGS: FlagValues = { hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16,fd00:244::/32', proxyMode: PROXY_MODE };

export function thisNode(): Raw {
  return node('node-a', [ADDR.nodeIPv4, ADDR.nodeIPv6], 'z1', ['10.244.1.0/24', 'fd00:244:1::/64']);
}

export type From = 'client' | 'node' | PodName;

export interface Bed {
  readonly topo: Topology;
  /** The tables svcrouter wants for these manifests (plus this Node object), without loading them. */
  compute(objects: Raw[], flags?: FlagValues): Loaded;
  /** Program the node from these manifests with a full render; returns what was loaded. */
  load(objects: Raw[], flags?: FlagValues): Promise<Loaded>;
  /** Apply a script that takes the node to `loaded` (a plan, say): what flows are traced through from now on. */
  apply(script: string, loaded: Loaded): Promise<void>;
  /** `loaded` was programmed by other means (`svcrouter apply`, say): what flows are traced through from now on. */
  applied(loaded: Loaded): Promise<void>;
  /** Apply an nft script in the node namespace. */
  nft(script: string): Promise<string>;
  probe(from: From, probes: Probe[]): Promise<ProbeResult[]>;
  /** From now on, trace flows through the running agent, as `svcrouter trace` on the node does. */
  traceThroughAgent(): void;
  /** The trace of a flow, or undefined when there is none to ask (nothing loaded, or no agent answering). */
  trace(flow: FlowArgs): Promise<TraceReport | undefined>;
  destroy(): Promise<void>;
}

/** The pods listen on `podPorts` (default POD_PORT); the node on `nodePorts` (default none). */
export async function createBed(opts: { apiLink?: boolean; nodePorts?: number[]; podPorts?: number[] } = {}): Promise<Bed> {
  const { podPorts = [POD_PORT], ...rest } = opts;
  const topo = await createTopology({
    pods: Object.entries(PODS).map(([name, p]) => ({ name, ipv4: p.v4, ipv6: p.v6, ports: podPorts })),
    ...rest,
  });
  // A real node has a default route; without one, node-originated service traffic fails before nat output.
  await topo.exec(topo.nodeNs, `ip route add default via ${ADDR.clientIPv4} && ip -6 route add default via ${ADDR.clientIPv6}`);
  const nsOf = (from: From) => (from === 'client' ? topo.clientNs : from === 'node' ? topo.nodeNs : topo.podNs(from));
  const nft = (script: string) => netnsExec(topo.nodeNs, ['nft', '-f', '-'], script);
  const compute = (objects: Raw[], flags: FlagValues = {}) => {
    const cfg = loadConfig({ ...BASE_FLAGS, ...flags });
    const loaded = clusterFrom([thisNode(), ...objects].map((raw, i) => ({ source: `test#${i + 1}`, raw })), cfg);
    expect(loaded.build.issues).toEqual([]);
    return loaded;
  };
  // What the node holds, with its own addresses then; or the agent to ask.
  let programmed: { loaded: Loaded; addresses: string[] } | 'agent' | undefined;
  const programs = async (loaded: Loaded) => {
    // IPVS mode's dummy link holds the service addresses: they are the services', not the node's.
    const a = await linkAddresses(topo.nodeNs, DUMMY_LINK);
    programmed = { loaded, addresses: [...a.ipv4, ...a.ipv6] };
  };
  const apply = async (script: string, loaded: Loaded) => {
    await nft(script);
    await programs(loaded);
  };
  return {
    topo,
    nft,
    compute,
    apply,
    applied: programs,
    async load(objects, flags = {}) {
      let loaded = compute(objects, flags);
      if (loaded.ipvs) {
        // As the agent: NodePorts on the addresses the node's links have now, not the Node object's.
        const ipvs = desiredIpvs(loaded.build.state, loaded.cfg, await linkAddresses(topo.nodeNs, DUMMY_LINK), loaded.policies);
        loaded = { ...loaded, ipvs, tables: [...ipvs.tables] };
        await loadIpvs(topo.nodeNs, ipvs);
        await programs(loaded);
      } else {
        await apply(scriptFor(loaded), loaded);
      }
      // Each scenario starts like a fresh node: no UDP flow of the last one may linger in conntrack.
      await netnsExec(topo.nodeNs, ['conntrack', '-F']).catch(() => {});
      return loaded;
    },
    probe: (from, probes) => topo.probe(nsOf(from), probes),
    traceThroughAgent() {
      programmed = 'agent';
    },
    async trace(flow) {
      if (programmed === undefined) return undefined;
      if (programmed !== 'agent') return traceDecided(programmed.loaded, parseFlow(flow), programmed.addresses);
      // What `svcrouter trace` asks (curl, not the CLI, so that probes in a loop stay close together).
      return netnsExec(topo.nodeNs, ['curl', '-sf', `http://${DEFAULT_AGENT}/trace?${flowQuery(parseFlow(flow))}`])
        .then((out) => JSON.parse(out) as TraceReport, () => undefined);
    },
    destroy: () => topo.destroy(),
  };
}

/**
 * IPVS mode's plan, programmed with the tools (the dump's ipvsadm syntax read by
 * ipvsadm -R, addresses with ip, the helper tables with nft), as a node where
 * svcrouter last programmed it, with svcrouter's sysctls.
 */
async function loadIpvs(ns: string, plan: IpvsPlan): Promise<void> {
  await netnsExec(ns, ['bash', '-c', [
    'modprobe ip_vs',
    `sysctl -q -w ${ipvsSysctls(release(), loadConfig({ ...BASE_FLAGS })).map((s) => `${s.name}=${s.value}`).join(' ')}`,
    `ip link show ${DUMMY_LINK} >/dev/null 2>&1 || ip link add ${DUMMY_LINK} type dummy`,
    `ip addr flush dev ${DUMMY_LINK}`,
    'ipvsadm -C',
  ].join(' && ')]);
  const addresses = [...plan.addresses.ipv4.map((a) => `addr add ${a}/32 dev ${DUMMY_LINK}`), ...plan.addresses.ipv6.map((a) => `addr add ${a}/128 dev ${DUMMY_LINK} nodad`)];
  if (addresses.length > 0) await netnsExec(ns, ['ip', '-batch', '-'], addresses.join('\n') + '\n');
  await netnsExec(ns, ['ipvsadm', '-R'], formatIpvsadm(plan.virtualServers));
  await netnsExec(ns, ['nft', '-f', '-'], renderTables(plan.tables));
}

/** Addresses of the node's links (but link `except`), per family. */
async function linkAddresses(ns: string, except?: string): Promise<HostAddresses> {
  const links = JSON.parse(await netnsExec(ns, ['ip', '-j', 'addr', 'show'])) as { ifname: string; addr_info: { family: string; local: string }[] }[];
  const out = { ipv4: [] as string[], ipv6: [] as string[] };
  for (const l of links.filter((x) => x.ifname !== except)) {
    for (const a of l.addr_info) (a.family === 'inet' ? out.ipv4 : out.ipv6).push(a.local);
  }
  return out;
}

/** The address of a pod in a family. */
export function ip(pod: PodName, f: Fam): string {
  return PODS[pod][f];
}

export interface Outcome {
  /** Pod addresses reached (where the echo server was reached). */
  reached: Set<string>;
  /** Sources the pods saw. */
  sources: Set<string>;
  outcomes: Set<string>;
  /** The client's own address: the source the probes were sent from. */
  src: string;
  /** The trace of this flow, the same before and after the probes (undefined: none to ask, or it changed meanwhile). */
  trace: TraceReport | undefined;
}

/** The source a probe from `from` is sent from: the client's default (or `src`), a pod's address, the node's. */
function sourceOf(from: From, f: Fam, src: string | undefined): string {
  if (src) return src;
  if (from === 'client') return f === 'v4' ? ADDR.clientIPv4 : ADDR.clientIPv6;
  if (from === 'node') return nodeIP(f);
  return PODS[from][f];
}

const nodeIP = (f: Fam) => (f === 'v4' ? ADDR.nodeIPv4 : ADDR.nodeIPv6);

/** The flow a probe from `from` (sent from `client`) is, for the trace: the node's own, or arriving on the interface it comes in by. */
export function flowFrom(bed: Bed, from: From, client: string, proto: 'tcp' | 'udp', addr: string, port: number): FlowArgs {
  const inInterface = from === 'node' ? undefined : from === 'client' ? 'eth0' : bed.topo.podIface(from);
  return { from: client, to: hostPort(addr, port), protocol: proto, fromNode: from === 'node', inInterface };
}

/**
 * n connections (TCP or UDP) from one place to addr:port, summarised; whatever
 * the kernel did must be what the trace of the flow allows: a DNAT reaches only
 * its endpoints, seen from the node's address exactly when masqueraded; a
 * reject is refused, a drop times out (an untouched packet may do anything).
 */
export async function connect(bed: Bed, from: From, proto: 'tcp' | 'udp', addr: string, port: number, n: number, opts: { src?: string; timeoutMs?: number } = {}): Promise<Outcome> {
  const { src, timeoutMs = 1000 } = opts;
  const f: Fam = addr.includes(':') ? 'v6' : 'v4';
  const client = sourceOf(from, f, src);
  const flow = flowFrom(bed, from, client, proto, addr, port);
  const before = await bed.trace(flow);
  const results = await bed.probe(from, Array.from({ length: n }, () => ({ proto, addr, port, ...(src ? { src } : {}), timeoutMs })));
  const after = await bed.trace(flow);
  const trace = before && after && JSON.stringify(before) === JSON.stringify(after) ? after : undefined;
  const out: Outcome = { reached: new Set(), sources: new Set(), outcomes: new Set(), src: client, trace };
  for (const r of results) {
    out.outcomes.add(r.outcome === 'error' ? `error: ${r.message}` : r.outcome);
    if (r.outcome === 'ok') {
      out.reached.add(r.reply.localAddr);
      out.sources.add(r.reply.peerAddr);
    }
  }
  if (trace) expectAllowedByTrace(trace, results, client, nodeIP(f));
  return out;
}

function expectAllowedByTrace(t: TraceReport, results: ProbeResult[], client: string, masqueraded: string): void {
  const allowed = (r: ProbeResult): boolean => {
    if (t.verdict === 'reject') return r.outcome === 'refused';
    if (t.verdict === 'drop') return r.outcome === 'timeout';
    if (t.verdict === 'accept') return true;
    if (r.outcome !== 'ok') return false;
    const ep = hostPort(r.reply.localAddr, r.reply.localPort);
    return t.endpoints.includes(ep) && r.reply.peerAddr === (t.masquerade || t.hairpin.includes(ep) ? masqueraded : client);
  };
  const wrong = results.filter((r) => !allowed(r))
    .map((r) => (r.outcome === 'ok' ? `reached ${hostPort(r.reply.localAddr, r.reply.localPort)} seen from ${r.reply.peerAddr}` : r.outcome));
  expect(wrong, `the kernel did what the trace does not allow: ${JSON.stringify(t)}`).toEqual([]);
}

/** The trace of the flow: there must be one to check. */
function traced(o: Outcome): TraceReport {
  expect(o.trace, 'no trace for this flow (nothing loaded, no agent answering, or it changed during the probes)').toBeDefined();
  return o.trace!;
}

/**
 * Every connection succeeded, all of `pods` (and only they) were reached, seen
 * from `sources`; and the trace says so: a DNAT to exactly those pods, each seen
 * from the node's address if masqueraded, else from the client's.
 */
export function expectReached(o: Outcome, pods: string[], sources: string[]): void {
  expect({ outcomes: [...o.outcomes], reached: [...o.reached].sort(), sources: [...o.sources].sort() })
    .toEqual({ outcomes: ['ok'], reached: [...pods].sort(), sources: [...sources].sort() });
  const t = traced(o);
  const nodeAddr = o.src.includes(':') ? nodeIP('v6') : nodeIP('v4');
  const predicted = t.endpoints.map((ep) => ({ ip: ep.replace(/^\[?(.*?)\]?:\d+$/, '$1'), seenFrom: t.masquerade || t.hairpin.includes(ep) ? nodeAddr : o.src }));
  expect({ verdict: t.verdict, reached: predicted.map((p) => p.ip).sort(), sources: [...new Set(predicted.map((p) => p.seenFrom))].sort() }, JSON.stringify(t))
    .toEqual({ verdict: 'dnat', reached: [...pods].sort(), sources: [...sources].sort() });
}

/** Refused by a reject, or timed out by a drop, of svcrouter's: so says the trace too. */
export function expectOutcome(o: Outcome, outcome: 'refused' | 'timeout'): void {
  expect([...o.outcomes]).toEqual([outcome]);
  expect(traced(o).verdict, JSON.stringify(o.trace)).toBe(outcome === 'refused' ? 'reject' : 'drop');
}

/** Left alone by svcrouter, as the trace says: the kernel then does what it does without it. */
export function expectUntouched(o: Outcome, outcome: 'refused' | 'timeout'): void {
  expect([...o.outcomes]).toEqual([outcome]);
  expect(traced(o).verdict, JSON.stringify(o.trace)).toBe('accept');
}

/**
 * Connections that must be rejected. The timeout spans a SYN retransmit: on a
 * veth the ICMPv6 error can come back while connect() still holds the socket
 * lock, and Linux then only notes it; the retransmitted SYN gets a fatal one.
 */
export async function expectRejected(bed: Bed, from: From, proto: 'tcp' | 'udp', addr: string, port: number, n = 2): Promise<void> {
  expectOutcome(await connect(bed, from, proto, addr, port, n, { timeoutMs: 2500 }), 'refused');
}

/** Enough tries that every one of k endpoints is reached with overwhelming probability. */
export function triesFor(k: number): number {
  return Math.max(4, 16 * k);
}
