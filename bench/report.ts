// The terminal report: the agent's figures (one column per cluster size),
// svcrouter's layout beside the two references with ratios, then every
// target with the value it was judged on and whether it is met.
import type { ChangeFigures, ChangeKind, Churn } from './agent-scenarios.js';
import type { LayoutFigures } from './data-plane.js';
import { kilo } from './format.js';
import { get, ok, overListingFloorMs, sectionErrors, type AgentFigures, type BenchResult, type Outcome, type SizeResult, type TargetResult } from './results.js';
import type { MemoryBreakdown } from './memory-breakdown.js';

const DASH = '-';

const fixed = (x: number | null | undefined, digits: number) => (x === null || x === undefined ? DASH : x.toFixed(digits));
/** Milliseconds: a decimal below 10 ms, where it means something. */
const ms = (x: number | null | undefined) => (x === null || x === undefined ? DASH : x.toFixed(x < 10 ? 1 : 0));
const seconds = (x: number | null | undefined) => (x === null || x === undefined ? DASH : (x / 1000).toFixed(2));
const pair = (a: string, b: string) => (a === DASH && b === DASH ? DASH : `${a} / ${b}`);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ').trimEnd()).join('\n');
}

const CHANGE_KINDS: [ChangeKind, string][] = [['endpointAdded', 'endpoint added'], ['endpointRemoved', 'endpoint removed'], ['serviceAdded', 'service added']];

function agentTable(sizes: readonly SizeResult[], objects: BenchResult['agentObjects']): string {
  const row = (label: string, cell: (a: AgentFigures, x: SizeResult) => string) => [label, ...sizes.map((x) => { const a = get(x.agent); return a ? cell(a, x) : DASH; })];
  const change = (kind: ChangeKind, f: (c: ChangeFigures) => string) => (a: AgentFigures) => { const c = get(a.changes); return c ? f(c[kind]) : DASH; };
  const memory = (f: (m: MemoryBreakdown) => string) => (a: AgentFigures) => { const m = get(a.memoryBreakdown); return m ? f(m) : DASH; };
  const mib = (x: number) => fixed(x, Math.abs(x) < 10 ? 1 : 0);
  const churnRows = [...new Set(sizes.flatMap((x) => Object.keys(get(x.agent)?.churn ?? {})))].flatMap((key) => {
    const figures = (f: (c: Churn) => string) => (a: AgentFigures) => { const c = get(a.churn[key]); return c ? f(c) : DASH; };
    const seconds = sizes.map((x) => get(get(x.agent)?.churn[key])?.seconds).find((v) => v !== undefined);
    return [
      row(`churn (${key}${seconds === undefined ? '' : ` for ${seconds} s`}): p50 / p99 (ms)`, figures((c) => pair(ms(c.p50Ms), ms(c.p99Ms)))),
      row('  syncs / CPU (millicores)', figures((c) => pair(String(c.syncs), fixed(c.millicores, 1)))),
      row('  RSS / peak (MiB)', figures((c) => pair(fixed(c.rssMiB, 0), fixed(c.peakRssMiB, 0)))),
    ];
  });
  const rows = [
    [`agent (API objects ${objects})`, ...sizes.map((x) => kilo(x.services))],
    row('start -> committed (s)', (a) => seconds(get(a.coldStart)?.totalMs)),
    row('  listing floor: the lists alone (s)', (a) => seconds(get(a.listingFloor)?.medianMs)),
    row('  start -> committed less listing floor (s)', (a) => seconds(overListingFloorMs(a))),
    row('  process start (s)', (a) => seconds(get(a.coldStart)?.startupMs)),
    row('  cold start: API list -> committed (s)', (a) => seconds(get(a.coldStart)?.fromListMs)),
    row('    list: watches start -> caches synced (s)', (a) => seconds(get(a.coldStart)?.listMs)),
    row('    compute / render / commit (ms)', (a) => { const c = get(a.coldStart); return c ? `${ms(c.computeMs)} / ${ms(c.renderMs)} / ${ms(c.commitMs)}` : DASH; }),
    row('    floor: nft -f of the dump (s)', (_, x) => seconds(get(x.floor)?.medianMs)),
    row('    cold start / floor', (a, x) => { const c = get(a.coldStart); const f = get(x.floor); return c && f ? `${(c.fromListMs / f.medianMs).toFixed(2)}x` : DASH; }),
    row('  restart (tables in place): API list -> committed (s)', (a) => seconds(a.restart && get(a.restart)?.fromListMs)),
    row('    compute / render / commit (ms)', (a) => { const c = a.restart && get(a.restart); return c ? `${ms(c.computeMs)} / ${ms(c.renderMs)} / ${ms(c.commitMs)}` : DASH; }),
    row('peak RSS (MiB)', (a) => fixed(get(a.coldStart)?.peakRssMiB, 0)),
    row('settled RSS: after start / after churn (MiB)', (a) => pair(fixed(get(a.settled)?.rssMiB, 0), fixed(get(a.idle)?.rssMiB, 0))),
    row('heap by part (MiB): module code (RSS)', memory((m) => `${mib(m.moduleCodeMiB)} (${mib(m.moduleCodeRssMiB)})`)),
    row('  raw objects, parsed and held', memory((m) => mib(m.rawObjectsMiB))),
    row('  state / policy / tables', memory((m) => `${mib(m.stateMiB)} / ${mib(m.policyMiB)} / ${mib(m.tablesMiB)}`)),
    row('  nft script, peak while generated', memory((m) => mib(m.scriptPeakMiB))),
    ...CHANGE_KINDS.flatMap(([kind, name]) => [
      row(`${name}: median / p99 (ms)`, change(kind, (c) => pair(ms(c.medianMs), ms(c.p99Ms)) + (c.samples < c.requested ? ` (${c.samples} of ${c.requested})` : ''))),
      row('  agent commitMs, median (ms)', change(kind, (c) => ms(c.commitMsMedian))),
      row('  API server write, not counted: p99 (ms)', change(kind, (c) => ms(c.apiWriteMsP99))),
      row('  transaction bytes / operations', change(kind, (c) => pair(fixed(c.bytesMedian, 0), fixed(c.operationsMedian, 0)))),
    ]),
    row('nft -f of one element: add / delete (ms)', (a) => { const e = get(a.nftElement); return e ? pair(ms(e.addMs), ms(e.deleteMs)) : DASH; }),
    ...churnRows,
    row(`idle (${idleSeconds(sizes)} s): CPU (millicores)`, (a) => fixed(get(a.idle)?.millicores, 1)),
  ];
  return table(rows);
}

const idleSeconds = (sizes: readonly SizeResult[]) => sizes.map((x) => get(get(x.agent)?.idle)?.seconds).find((v) => v !== undefined) ?? DASH;

/** svcrouter's figure, then each reference's and svcrouter / reference (below 1: svcrouter does better). */
function layoutsTable(sizes: readonly SizeResult[]): string {
  const rows = [['layouts (same cluster, same run)', 'svcrouter', 'kube-proxy', 'ratio', 'linear', 'ratio']];
  const skipped = () => ['skipped', DASH];
  for (const x of sizes) {
    const d = get(x.dataPlane);
    if (!d) continue;
    type Pick = (l: LayoutFigures) => number | null | undefined;
    const line = (label: string, pick: Pick, fmt: (v: number) => string, whenCapped: (capMs: number, mine: number) => string[]) => {
      const mine = pick(d.svcrouter) ?? null;
      const ref = (o: Outcome<LayoutFigures>): string[] => {
        if (!ok(o)) return ['error', DASH];
        if (o.fullLoadMs === null) return mine === null ? skipped() : whenCapped(o.loadCapMs!, mine);
        const v = pick(o) ?? null;
        return [v === null ? DASH : fmt(v), mine !== null && v ? `${(mine / v).toFixed(2)}x` : DASH];
      };
      rows.push([`${kilo(x.services)}: ${label}`, mine === null ? DASH : fmt(mine), ...ref(d.kubeProxy), ...ref(d.linear)]);
    };
    // A load killed at its cap still bounds the ratio: svcrouter's time over the cap.
    line('full load, nft -f (s)', (l) => l.fullLoadMs, (v) => (v / 1000).toFixed(2), (cap, mine) => [`> ${(cap / 1000).toFixed(0)} s cap`, `< ${(mine / cap).toFixed(3)}x`]);
    line('one service added, nft -f (ms)', (l) => l.serviceAddMs, ms, skipped);
    line('first packet p50 (us)', (l) => l.firstPacket?.p50Us, (v) => v.toFixed(1), skipped);
    line('first packet p99 (us)', (l) => l.firstPacket?.p99Us, (v) => v.toFixed(1), skipped);
  }
  return table(rows);
}

function withUnit(v: number, unit: TargetResult['unit']): string {
  switch (unit) {
    case 'ms': return v >= 1000 ? `${seconds(v)} s` : `${ms(v)} ms`;
    case 'ratio': return `${v.toFixed(2)}x`;
    case 'MiB': return `${v.toFixed(0)} MiB`;
    case 'millicores': return `${v.toFixed(1)} mc`;
    case 'us': return `${v >= 0 ? '+' : ''}${v.toFixed(1)} us`;
  }
}

function targetsTable(r: BenchResult): string {
  if (r.targets.length === 0) return 'targets: none applies at these sizes';
  const rows = [['target', ...r.sizes.map((x) => kilo(x.services)), 'met']];
  for (const text of new Set(r.targets.map((t) => t.text))) {
    const ts = r.targets.filter((t) => t.text === text);
    const value = (n: number) => { const t = ts.find((x) => x.services === n); return !t ? '' : t.value === null ? DASH : withUnit(t.value, t.unit); };
    const met = ts.map((t) => (t.met === null ? '?' : t.met ? 'yes' : 'NO')).join(', ');
    rows.push([text, ...r.sizes.map((x) => value(x.services)), met]);
  }
  return table(rows);
}

function errors(r: BenchResult): string[] {
  const logged = r.sizes.flatMap((x) => (get(x.agent)?.agentWarnings ?? []).map((e) => `${kilo(x.services)}: the agent logged: ${e}`));
  return [...sectionErrors(r.sizes, kilo), ...logged];
}

export function renderReport(r: BenchResult, file: string): string {
  const env = r.environment;
  const capped = r.sizes.some((x) => [get(x.dataPlane)?.kubeProxy, get(x.dataPlane)?.linear].some((l) => l !== undefined && get(l)?.fullLoadMs === null));
  const errs = errors(r);
  return [
    `svcrouter bench (${r.mode}) on ${r.host}, ${r.date}: ${env.cpus} CPUs, kernel ${env.kernel}, ${env.nft}, node ${env.node}, svcrouter ${env.commit}; ${(r.durationS / 60).toFixed(1)} min`,
    `clusters of N services x ${r.sizes[0]?.endpointsPerService} endpoints, 3 of them with 1,000: ${r.sizes.map((x) => `${kilo(x.services)} = ${x.endpoints.toLocaleString('en')} endpoints, svcrouter ruleset ${x.ruleset.elements.toLocaleString('en')} elements in ${x.ruleset.chains} chains`).join('; ')}`,
    '',
    agentTable(r.sizes, r.agentObjects),
    '',
    layoutsTable(r.sizes),
    ...(capped ? ['(a reference layout whose full load passed the cap was killed there; its other figures are skipped)'] : []),
    '',
    targetsTable(r),
    ...(errs.length ? ['', 'errors, and what the agent warned of:', ...errs.map((e) => `  ${e}`)] : []),
    '',
    `results: ${file}`,
  ].join('\n') + '\n';
}
