// Reads svcrouter's tables back from a kernel in a canonical form, so that two
// ways of reaching one state (full render, or render + plan) compare equal.
import { netnsExec, run } from './netns.js';

/**
 * nft prints one transport-header load as "tcp dport" or "th dport" depending on
 * what it has in its cache (the backends maps' data says "tcp dport"); the
 * kernel holds the same bytecode either way, so both read as "th".
 */
function sameBytecode(json: string): string {
  return json.replaceAll('{"protocol":"tcp","field":"dport"}', '{"protocol":"th","field":"dport"}');
}

/** `nft -j list table` for both families, without handles, elements sorted; packet-path sets' contents left out. */
export async function readTables(ns: string): Promise<string> {
  const out: string[] = [];
  for (const fam of ['ip', 'ip6']) {
    const json = JSON.parse(await netnsExec(ns, ['nft', '-j', 'list', 'table', fam, 'svcrouter'])) as { nftables: Record<string, any>[] };
    const chains: string[] = [];
    const rules = new Map<string, string[]>();
    const sets: string[] = [];
    for (const item of json.nftables) {
      const [kind, body] = Object.entries(item)[0]!;
      const b = stripHandles(body);
      if (kind === 'chain') chains.push(JSON.stringify(b));
      else if (kind === 'rule') rules.set(b.chain, [...(rules.get(b.chain) ?? []), JSON.stringify(b.expr)]);
      else if (kind === 'set' || kind === 'map') {
        // Sets with timeouts are filled by the packet path (affinity); only their declaration is ours.
        const dynamic = (b.flags ?? []).includes('timeout');
        const elems = dynamic ? [] : ((b.elem ?? []) as unknown[]).map((e) => JSON.stringify(e)).sort();
        sets.push(JSON.stringify({ ...b, elem: elems }));
      } else if (kind === 'table') out.push(JSON.stringify(b));
    }
    out.push(...chains.sort(), ...[...rules].sort(([a], [b]) => a.localeCompare(b)).map(([c, rs]) => `${c}: ${rs.join(' ; ')}`), ...sets.sort());
  }
  return sameBytecode(out.join('\n'));
}

function stripHandles(v: any): any {
  if (Array.isArray(v)) return v.map(stripHandles);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'handle').map(([k, x]) => [k, stripHandles(x)]));
  }
  return v;
}

/** A bare network namespace (no interfaces but lo) for table-level tests. */
export async function withBareNamespaces<T>(n: number, fn: (names: string[]) => Promise<T>): Promise<T> {
  const names = Array.from({ length: n }, (_, i) => `srk-${process.pid}-${Math.random().toString(16).slice(2, 6)}-${i}`);
  for (const ns of names) await run(['ip', 'netns', 'add', ns]);
  try {
    return await fn(names);
  } finally {
    for (const ns of names) await run(['ip', 'netns', 'del', ns]).catch(() => {});
  }
}
