// The layouts on the packet path, each in its own bed: client ns -> node ns
// (the rules) -> a pod ns that holds every endpoint address of the target
// service and a listener. Per layout: the full load (nft -f into the fresh
// node ns, abandoned past a cap), one service added, and first-packet
// latency (TCP connect() time to the VIP). The beds stay up together and the
// connects run in interleaved rounds, so a noisy moment of the machine
// lands on every layout alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { createTopology, ADDR, type Topology } from '../test/support/topology.js';
import { netnsExec, run } from '../test/support/netns.js';
import { atExit } from './cleanup.js';
import type { CTools } from './c-tools.js';
import { step } from './progress.js';
import type { RefService } from './reference-layouts.js';
import { attempt, ok, type Outcome } from './results.js';
import { quantile, round } from './stats.js';
import { uniqueName } from './workspace.js';
import { timeNft } from './nft-timing.js';

export interface FirstPacket {
  readonly samples: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface LayoutFigures {
  /** null: abandoned at the cap. */
  readonly fullLoadMs: number | null;
  readonly loadCapMs: number | null;
  /** Median over the service-add scripts; null when the full load was abandoned. */
  readonly serviceAddMs: number | null;
  readonly firstPacket: FirstPacket | null;
}

export interface LayoutPlan {
  readonly name: string;
  /** Script files: the whole table, and one-service additions applied in turn (each undone after, if it has an undo). */
  readonly full: string;
  readonly serviceAdds: readonly { add: string; undo?: string }[];
  readonly loadCapMs: number | null;
}

export interface PacketTest {
  readonly target: RefService;
  readonly connects: number;
  readonly warmup: number;
  readonly tools: CTools;
}

/** Connect samples are taken in this many rounds, each layout in turn. */
const ROUNDS = 5;

export async function measureLayouts(plans: readonly LayoutPlan[], test: PacketTest, label: string): Promise<Outcome<LayoutFigures>[]> {
  const beds: (PacketBed | undefined)[] = [];
  try {
    const loaded: Outcome<Omit<LayoutFigures, 'firstPacket'>>[] = [];
    for (const plan of plans) {
      step(`${label}: ${plan.name} layout: full load${plan.loadCapMs === null ? '' : ` (cap ${plan.loadCapMs / 1000} s)`}, one service added`);
      const bed = await createPacketBed(test);
      const figures = await attempt(() => loadLayout(bed.topo.nodeNs, plan));
      // A layout that did not load has nothing more to measure: its bed goes at once.
      const usable = ok(figures) && figures.fullLoadMs !== null;
      if (!usable) await bed.destroy();
      beds.push(usable ? bed : undefined);
      loaded.push(figures);
    }
    step(`${label}: first packet, ${test.connects} connects per layout in ${ROUNDS} interleaved rounds`);
    const samples = await attempt(() => connectRounds(beds, test));
    return loaded.map((l, i) => {
      if (!ok(l)) return l;
      if (!beds[i]) return { ...l, firstPacket: null };
      if (!ok(samples)) return samples;
      return { ...l, firstPacket: summarize(samples[i]) };
    });
  } finally {
    for (const bed of beds) await bed?.destroy();
  }
}

async function loadLayout(ns: string, plan: LayoutPlan): Promise<Omit<LayoutFigures, 'firstPacket'>> {
  const fullLoadMs = await timeNft(ns, plan.full, plan.loadCapMs ?? Infinity);
  if (fullLoadMs === null) return { fullLoadMs, loadCapMs: plan.loadCapMs, serviceAddMs: null };
  const adds: number[] = [];
  for (const { add, undo } of plan.serviceAdds) {
    adds.push((await timeNft(ns, add))!);
    if (undo) await timeNft(ns, undo);
  }
  return { fullLoadMs: round(fullLoadMs), loadCapMs: plan.loadCapMs, serviceAddMs: round(quantile(adds, 0.5)) };
}

async function connectRounds(beds: readonly (PacketBed | undefined)[], test: PacketTest): Promise<number[][]> {
  const samples = beds.map((): number[] => []);
  const perRound = Math.ceil(test.connects / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, bed] of beds.entries()) if (bed) samples[i].push(...(await timeConnects(bed.topo, test, perRound)));
  }
  return samples;
}

/** Microseconds per connect, after untimed warm-up ones (routes, neighbours, conntrack slabs). */
async function timeConnects(topo: Topology, test: PacketTest, count: number): Promise<number[]> {
  const { target, warmup, tools } = test;
  const out = await netnsExec(topo.clientNs, [tools.connectTimer, target.vip, String(target.port), String(count), String(warmup)]);
  return out.trim().split('\n').map((ns) => Number(ns) / 1000);
}

const summarize = (us: number[]): FirstPacket => ({ samples: us.length, p50Us: round(quantile(us, 0.5))!, p99Us: round(quantile(us, 0.99))! });

interface PacketBed {
  readonly topo: Topology;
  destroy(): Promise<void>;
}

async function createPacketBed(test: PacketTest): Promise<PacketBed> {
  const [first, ...others] = test.target.endpoints;
  const topo = await createTopology({ prefix: uniqueName(), pods: [{ name: 'ep', ipv4: first, ipv6: 'fd00:ffff::1', ports: [] }] });
  let listener: ChildProcess | undefined;
  const unregister = atExit(() => listener?.kill('SIGKILL'));
  const destroy = async () => {
    listener?.kill('SIGKILL');
    unregister();
    await topo.destroy();
  };
  try {
    // The pod answers on every endpoint address, so any backend the rules pick is there.
    const pod = topo.podNs('ep');
    await run(['ip', '-n', pod, '-batch', '-'], others.map((ip) => `addr add ${ip}/32 dev eth0\n`).join(''));
    await run(['ip', '-n', topo.nodeNs, '-batch', '-'], others.map((ip) => `route add ${ip}/32 dev ${topo.podIface('ep')} src ${ADDR.nodeIPv4}\n`).join(''));
    listener = await startListener(pod, test.tools.acceptLoop, test.target.targetPort);
  } catch (e) {
    await destroy();
    throw e;
  }
  return { topo, destroy };
}

function startListener(ns: string, bin: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, bin, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => d.includes('READY') && resolve(child));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`accept-loop in ${ns} exited (${code}): ${err.trim()}`)));
  });
}
