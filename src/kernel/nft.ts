// nftables scripts, each one atomic transaction (new tables have their set
// elements written over netlink instead: nftables/new-tables.ts). Small ones
// (every incremental sync) run in-process through libnftables, over a
// netlink socket kept open (libnftables-addon.c: why that matters for
// deletions). Large ones (a full load) go to an `nft -f` child: nft's parser
// needs about 1.7 KB per element (455 MB for 270k elements), which must not
// stay in the agent's heap, and a child gives it back when it exits.
import { TABLE } from '../backends/nftables/model.js';
import { execTool } from './exec.js';
import { loadAddon } from './addon.js';

/** Scripts longer than this go to a child nft (about 20k elements). */
const IN_PROCESS_MAX_BYTES = 1 << 20;

export class NftError extends Error {}

interface Addon {
  create(): object;
  run(ctx: object, script: string, done: (err: Error | null) => void): void;
}

let context: { addon: Addon; ctx: object } | undefined;
/** One script at a time per context: each waits for the one before it. */
let queue: Promise<unknown> = Promise.resolve();

function open(): { addon: Addon; ctx: object } {
  if (!context) {
    let addon: Addon;
    try {
      addon = loadAddon<Addon>('libnftables');
    } catch (e) {
      throw new NftError(`cannot load the libnftables addon (install libnftables-dev, then npm run build): ${(e as Error).message}`);
    }
    context = { addon, ctx: addon.create() };
  }
  return context;
}

/** What a committed script held. */
export interface Applied {
  readonly bytes: number;
  /** nft commands, one a line. */
  readonly operations: number;
  /** Transactions committed: the kernel's ruleset generation moved this much. */
  readonly transactions: number;
}

/**
 * Apply a script atomically: all of it or none of it. A script given line by
 * line is generated as it is written, so a large one goes to the child nft a
 * chunk at a time and is never held whole in the agent.
 */
export function applyScript(script: string | Iterable<string>): Promise<Applied> {
  const run = queue.then(() => (typeof script === 'string' ? applyText(script) : applyLines(script)));
  queue = run.catch(() => undefined);
  return run;
}

async function applyText(script: string): Promise<Applied> {
  const applied = { bytes: script.length, operations: countLines(script), transactions: 0 };
  if (script.trim() === '') return applied;
  await (script.length > IN_PROCESS_MAX_BYTES ? runChild(script) : runInProcess(script));
  return { ...applied, transactions: 1 };
}

async function applyLines(lines: Iterable<string>): Promise<Applied> {
  const it = lines[Symbol.iterator]();
  const head: string[] = [];
  let bytes = 0;
  let operations = 0;
  const count = (line: string) => {
    bytes += line.length + 1;
    operations++;
    return line;
  };
  // Small scripts (every incremental sync) run in-process; the first line past the limit sends it all to a child.
  for (let r = it.next(); !r.done; r = it.next()) {
    head.push(count(r.value));
    if (bytes > IN_PROCESS_MAX_BYTES) {
      await runChild(chunked(head, { [Symbol.iterator]: () => it }, count));
      return { bytes, operations, transactions: 1 };
    }
  }
  if (operations > 0) await runInProcess(head.join('\n') + '\n');
  return { bytes, operations, transactions: operations > 0 ? 1 : 0 };
}

/** The lines as stdin chunks of about 64 KiB, newline-terminated. */
function* chunked(head: readonly string[], rest: Iterable<string>, count: (line: string) => string): Generator<string> {
  let chunk = head.join('\n') + '\n';
  for (const line of rest) {
    chunk += count(line) + '\n';
    if (chunk.length >= 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

function countLines(script: string): number {
  let n = 0;
  for (let i = script.indexOf('\n'); i >= 0; i = script.indexOf('\n', i + 1)) n++;
  return n;
}

function runInProcess(script: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { addon, ctx } = open();
    addon.run(ctx, script, (err) => (err ? reject(new NftError(`nft: ${err.message.trim()}`)) : resolve()));
  });
}

/**
 * nft's parser mallocs about 1.7 KB per element, 400 MB for a 10k-service full
 * load: with 4 KiB pages that is 100k page faults, a third of nft's user time.
 * Transparent huge pages for its heap (glibc 2.35+; ignored elsewhere, and
 * where THP is off) make that about 3,600.
 */
const NFT_CHILD_ENV = { GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1'].filter(Boolean).join(':') };

async function runChild(script: string | Iterable<string>): Promise<void> {
  const r = await execTool('nft', ['-f', '-'], script, NFT_CHILD_ENV).catch((e: Error) => { throw new NftError(e.message); });
  if (r.code !== 0) throw new NftError(`nft -f exited ${r.code}: ${r.stderr.trim()}`);
}

/** Delete svcrouter's tables (and with kubeProxy, kube-proxy's); missing ones are fine. */
export async function deleteTables(kubeProxy: boolean): Promise<void> {
  const names = kubeProxy ? [TABLE, 'kube-proxy'] : [TABLE];
  const script = names.flatMap((n) => ['ip', 'ip6'].flatMap((f) => [`add table ${f} ${n}`, `delete table ${f} ${n}`])).join('\n');
  await applyScript(script + '\n');
}
