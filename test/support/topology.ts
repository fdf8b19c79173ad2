// Builds a small "cluster" out of network namespaces for kernel e2e tests:
//
//   client ns  --veth(eth0/eth0)--  node ns  --veth(v<pod>/eth0)--  pod ns (one per pod)
//
// The node forwards between everything; svcrouter's nftables rules go in the node ns.
// Pods run c/echo-server.c; any namespace can send probes with c/probe.c.
//
// With `apiLink: true`, one more veth joins the ROOT namespace to the node ns
// (root <prefix>api / node api0, a random private /30 out of 10.254.0.0/16), so a
// process in the node ns can reach a fake API server started in the test process on
// `topology.apiHost`. Only the connected /30 route exists on either side.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { netnsExec, run } from './netns.js';
import { cTool } from './c-tools.js';

export const ADDR = {
  nodeIPv4: '192.168.50.1',
  nodeIPv6: 'fd00:50::1',
  clientIPv4: '192.168.50.10',
  clientIPv4b: '192.168.50.11',
  clientIPv6: 'fd00:50::10',
  clientIPv6b: 'fd00:50::11',
  /** Off-subnet client sources; the node routes them back via the client. */
  clientOtherIPv4: '203.0.113.5',
  clientOtherIPv6: '2001:db8:99::5',
  /** Next hops the pods use as default gateway (configured on every node-side pod veth). */
  podGatewayIPv4: '169.254.1.1',
  podGatewayIPv6: 'fe80::1',
} as const;

export interface PodSpec {
  name: string;
  ipv4: string;
  ipv6: string;
  ports: number[];
}

export interface TopologyOptions {
  prefix?: string;
  pods: PodSpec[];
  /** Add the root<->node veth for reaching an API server in the test process (see apiHost). */
  apiLink?: boolean;
  /** Ports the node itself answers on (an echo server in its namespace). */
  nodePorts?: number[];
}

export interface Probe {
  proto: 'tcp' | 'udp';
  addr: string;
  port: number;
  src?: string;
  /** A given source port (a flow the kernel has seen before); any by default. */
  srcPort?: number;
  timeoutMs?: number;
}

export interface ProbeReply {
  localAddr: string;
  localPort: number;
  peerAddr: string;
  peerPort: number;
}

export type ProbeResult =
  | { outcome: 'ok'; reply: ProbeReply }
  | { outcome: 'refused' }
  | { outcome: 'timeout' }
  | { outcome: 'error'; message: string };

export interface Topology {
  prefix: string;
  nodeNs: string;
  clientNs: string;
  /** Namespace of pod `name`; throws for unknown pods. */
  podNs(name: string): string;
  /** Node-side interface name of pod `name`'s veth. */
  podIface(name: string): string;
  /**
   * Root-namespace address of the API link, reachable from the node ns (interface api0):
   * start the fake API server with `host: topology.apiHost`. Throws unless created with `apiLink: true`.
   */
  readonly apiHost: string;
  probe(ns: string, probes: Probe[]): Promise<ProbeResult[]>;
  /** Run a bash command line inside `ns`; resolves with stdout. */
  exec(ns: string, cmd: string): Promise<string>;
  /** Kill echo servers, delete namespaces. Safe to call more than once. */
  destroy(): Promise<void>;
}


// Set in every namespace before any interface exists, so `default` applies to them.
const COMMON_SYSCTLS = [
  // Multi-source tests send from addresses that strict reverse-path checks reject.
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  // No duplicate address detection: addresses (incl. auto link-local) usable at once.
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv6.conf.default.accept_dad=0',
  // ICMP errors (port unreachable = UDP 'refused') are rate limited per peer by default
  // (v4: burst of ~6 then 1/s); tests sending many probes would see timeouts instead.
  'net.ipv4.icmp_ratelimit=0',
  'net.ipv6.icmp.ratelimit=0',
];

const NODE_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv6.conf.all.forwarding=1',
  'net.ipv6.conf.default.forwarding=1',
];

// Topologies not yet destroyed, cleaned up synchronously if the process exits early.
const live = new Set<{ namespaces: string[]; children: ChildProcess[]; rootLinks: string[] }>();
process.on('exit', () => {
  for (const t of live) {
    for (const c of t.children) c.kill('SIGKILL');
    for (const link of t.rootLinks) spawnSync('ip', ['link', 'del', link]);
    for (const ns of t.namespaces) spawnSync('ip', ['netns', 'del', ns]);
  }
});

/** Run `ip` commands (one per line) in `ns` with a single `ip -batch` process. */
function ipBatch(ns: string, lines: string[]): Promise<string> {
  return run(['ip', '-n', ns, '-batch', '-'], lines.join('\n') + '\n');
}

function sysctl(ns: string, settings: string[]): Promise<string> {
  return netnsExec(ns, ['sysctl', '-q', '-w', ...settings]);
}

/** Starts the echo server in `ns`; the child is added to `children` at once so cleanup never misses it. */
function startEchoServer(ns: string, ports: number[], children: ChildProcess[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // `ip netns exec` execs the command, so the child pid is the server itself.
    const child = spawn('ip', ['netns', 'exec', ns, cTool('echo-server'), ...ports.map(String)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`echo server in ${ns}: no READY after 10s: ${err}`)), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('READY\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`echo server in ${ns} exited (${code}): ${err.trim()}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Node-side veth name for a pod: 'v' + sanitized name, max 15 chars (IFNAMSIZ), unique. */
function ifaceNames(pods: PodSpec[]): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Set<string>(['eth0', 'lo']);
  pods.forEach((p, i) => {
    let n = ('v' + p.name.replace(/[^A-Za-z0-9_-]/g, '')).slice(0, 15);
    if (used.has(n)) n = `${n.slice(0, 15 - String(i).length - 1)}-${i}`;
    used.add(n);
    names.set(p.name, n);
  });
  return names;
}

const API_NET = 0x0afe0000; // 10.254.0.0/16, carved into /30s

function v4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Whether an IPv4 address in the ROOT ns (on a device other than `exceptDev`) overlaps the /30 at `net`. */
async function subnetInUse(net: number, exceptDev?: string): Promise<boolean> {
  const out = await run(['ip', '-4', '-o', 'addr', 'show']);
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)/.exec(line);
    if (!m || m[1] === exceptDev) continue;
    const plen = Number(m[6]);
    if (plen < 16) continue; // a huge subnet (say 10.0.0.0/8) is shadowed by our connected /30
    const addr = ((Number(m[2]) << 24) | (Number(m[3]) << 16) | (Number(m[4]) << 8) | Number(m[5])) >>> 0;
    const size = 2 ** (32 - plen);
    const start = addr - (addr % size);
    if (start < net + 4 && net < start + size) return true;
  }
  return false;
}

/**
 * Creates the root<->node API veth on a random free /30 (checked before and, against
 * concurrent test processes, after adding the addresses); returns the root-side address.
 */
async function addApiLink(prefix: string, nodeNs: string, rootLinks: string[]): Promise<string> {
  const link = `${prefix}api`;
  if (link.length > 15) throw new Error(`prefix '${prefix}' too long for interface name '${link}' (max 15 chars)`);
  for (let attempt = 0; attempt < 20; attempt++) {
    const net = API_NET + randomInt(16384) * 4;
    if (await subnetInUse(net)) continue;
    await run(['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'api0', 'netns', nodeNs]);
    if (!rootLinks.includes(link)) rootLinks.push(link);
    await run(['ip', '-batch', '-'], `addr add ${v4(net + 1)}/30 dev ${link}\nlink set ${link} up\n`);
    await ipBatch(nodeNs, [`addr add ${v4(net + 2)}/30 dev api0`, 'link set api0 up']);
    if (!(await subnetInUse(net, link))) return v4(net + 1);
    await run(['ip', 'link', 'del', link]); // lost a race for this /30: try another one
  }
  throw new Error('no free /30 in 10.254.0.0/16 for the API link');
}

/** One line of the probe's output (see c/probe.c). */
function parseProbeLine(line: string): ProbeResult {
  const [outcome, ...rest] = line.split(' ');
  if (outcome === 'ok') {
    const [localAddr, localPort, peerAddr, peerPort] = rest;
    return { outcome: 'ok', reply: { localAddr: localAddr!, localPort: Number(localPort), peerAddr: peerAddr!, peerPort: Number(peerPort) } };
  }
  if (outcome === 'refused' || outcome === 'timeout') return { outcome };
  return { outcome: 'error', message: rest.join(' ') || line };
}

export async function createTopology(opts: TopologyOptions = { pods: [] }): Promise<Topology> {
  const prefix = opts.prefix ?? `sr${randomBytes(2).toString('hex')}`;
  const pods = opts.pods;
  const podNames = new Set(pods.map((p) => p.name));
  if (podNames.size !== pods.length) throw new Error('duplicate pod names');
  if (podNames.has('node') || podNames.has('client')) throw new Error("pod names 'node'/'client' are reserved");

  const nodeNs = `${prefix}-node`;
  const clientNs = `${prefix}-client`;
  const podNsName = (name: string) => `${prefix}-${name}`;
  const ifaces = ifaceNames(pods);
  const state = { namespaces: [] as string[], children: [] as ChildProcess[], rootLinks: [] as string[] };
  let apiHost: string | undefined;
  live.add(state);

  let destroyed: Promise<void> | undefined;
  const destroy = () =>
    (destroyed ??= (async () => {
      await Promise.all(state.children.map(stopChild));
      for (const link of state.rootLinks) await run(['ip', 'link', 'del', link]).catch(() => {});
      // Delete pods first; deleting the node ns then removes the remaining veths.
      for (const ns of [...state.namespaces].reverse()) await run(['ip', 'netns', 'del', ns]).catch(() => {});
      live.delete(state);
    })());

  const topo: Topology = {
    prefix,
    nodeNs,
    clientNs,
    podNs(name) {
      if (!podNames.has(name)) throw new Error(`unknown pod ${name}`);
      return podNsName(name);
    },
    podIface(name) {
      const n = ifaces.get(name);
      if (!n) throw new Error(`unknown pod ${name}`);
      return n;
    },
    get apiHost() {
      if (apiHost === undefined) throw new Error('topology.apiHost needs createTopology({ apiLink: true })');
      return apiHost;
    },
    async probe(ns, probes) {
      const input = probes.map((p) => `${p.proto} ${p.addr} ${p.port} ${p.src ?? '-'} ${p.timeoutMs ?? 1500} ${p.srcPort ?? 0}\n`).join('');
      return (await netnsExec(ns, [cTool('probe')], input)).trimEnd().split('\n').filter((l) => l !== '').map(parseProbeLine);
    },
    exec: (ns, cmd) => netnsExec(ns, ['bash', '-c', cmd]),
    destroy,
  };

  try {
    // ip -batch has no per-line -6: IPv6 routes are recognised by their addresses (::/0, not "default").
    for (const ns of [nodeNs, clientNs, ...pods.map((p) => podNsName(p.name))]) {
      await run(['ip', 'netns', 'add', ns]);
      state.namespaces.push(ns);
      await sysctl(ns, ns === nodeNs ? [...COMMON_SYSCTLS, ...NODE_SYSCTLS] : COMMON_SYSCTLS);
      await ipBatch(ns, ['link set lo up']);
    }

    // Client <-> node. Created from the node ns with the peer placed straight into the
    // client ns, so interface names never touch (or collide in) the root namespace.
    await ipBatch(nodeNs, [
      `link add eth0 type veth peer name eth0 netns ${clientNs}`,
      `addr add ${ADDR.nodeIPv4}/24 dev eth0`,
      `addr add ${ADDR.nodeIPv6}/64 dev eth0 nodad`,
      'link set eth0 up',
      `route add ${ADDR.clientOtherIPv4}/32 via ${ADDR.clientIPv4}`,
      `route add ${ADDR.clientOtherIPv6}/128 via ${ADDR.clientIPv6}`,
    ]);
    await ipBatch(clientNs, [
      `addr add ${ADDR.clientIPv4}/24 dev eth0`,
      `addr add ${ADDR.clientIPv4b}/24 dev eth0`,
      `addr add ${ADDR.clientOtherIPv4}/32 dev eth0`,
      // IPv6 source selection would otherwise pick the most recently added address
      // (equal candidates tie-break on list order, newest first). Deprecating the
      // secondaries (preferred_lft 0) keeps fd00:50::10 the default source while
      // still allowing explicit binds to them.
      `addr add ${ADDR.clientIPv6}/64 dev eth0 nodad`,
      `addr add ${ADDR.clientIPv6b}/64 dev eth0 nodad preferred_lft 0`,
      `addr add ${ADDR.clientOtherIPv6}/128 dev eth0 nodad preferred_lft 0`,
      'link set eth0 up',
      `route add default via ${ADDR.nodeIPv4}`,
      `route add ::/0 via ${ADDR.nodeIPv6}`,
    ]);

    // Pods: Calico-style point-to-point veths. Every node-side veth carries the same
    // gateway addresses; 169.254.1.1 is scope link so the kernel never picks it as a
    // source for routed/masqueraded traffic (node IP is used instead), and the pod
    // routes have an explicit src for node-originated traffic.
    for (const p of pods) {
      const ns = podNsName(p.name);
      const v = ifaces.get(p.name)!;
      await ipBatch(nodeNs, [
        `link add ${v} type veth peer name eth0 netns ${ns}`,
        `addr add ${ADDR.podGatewayIPv4}/32 dev ${v} scope link`,
        `addr add ${ADDR.podGatewayIPv6}/64 dev ${v} nodad`,
        `link set ${v} up`,
        `route add ${p.ipv4}/32 dev ${v} src ${ADDR.nodeIPv4}`,
        `route add ${p.ipv6}/128 dev ${v} src ${ADDR.nodeIPv6}`,
      ]);
      await ipBatch(ns, [
        `addr add ${p.ipv4}/32 dev eth0`,
        `addr add ${p.ipv6}/128 dev eth0 nodad`,
        'link set eth0 up',
        `route add ${ADDR.podGatewayIPv4}/32 dev eth0 scope link`,
        `route add default via ${ADDR.podGatewayIPv4} dev eth0`,
        `route add ::/0 via ${ADDR.podGatewayIPv6} dev eth0`,
      ]);
    }

    if (opts.apiLink) apiHost = await addApiLink(prefix, nodeNs, state.rootLinks);

    const servers = pods.filter((p) => p.ports.length > 0).map((p) => ({ ns: podNsName(p.name), ports: p.ports }));
    if (opts.nodePorts?.length) servers.push({ ns: nodeNs, ports: opts.nodePorts });
    await Promise.all(servers.map((x) => startEchoServer(x.ns, x.ports, state.children)));
  } catch (e) {
    await destroy();
    throw e;
  }
  return topo;
}
