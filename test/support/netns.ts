// Helpers for tests that need root, network namespaces, ip and nft.
import { spawn, spawnSync } from 'node:child_process';
import { describe } from 'vitest';

/** Run argv, feed `input` on stdin, resolve with stdout; reject with stderr on failure. */
export function run(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')}: exit ${code ?? signal}: ${err.trim()}`));
    });
    child.stdin.on('error', () => {}); // the child may exit without reading stdin
    child.stdin.end(input ?? '');
  });
}

/** Run a command line with bash -c. */
export function sh(cmd: string): Promise<string> {
  return run(['bash', '-c', cmd]);
}

/** Run argv inside network namespace `ns`. */
export function netnsExec(ns: string, argv: string[], input?: string): Promise<string> {
  return run(['ip', 'netns', 'exec', ns, ...argv], input);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export type E2EStatus = { ok: true } | { ok: false; reason: string };

let cached: E2EStatus | undefined;

/** Checks (once per process) everything the kernel e2e tests need. Synchronous so it can gate describe(). */
export function e2eAvailable(): E2EStatus {
  cached ??= check();
  return cached;
}

function check(): E2EStatus {
  if (!isRoot()) return { ok: false, reason: 'not running as root' };
  for (const tool of ['ip', 'nft']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return { ok: false, reason: `'${tool}' not found in PATH` };
    }
  }
  const ns = `srprobe-${process.pid}-${Math.random().toString(16).slice(2, 6)}`;
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) {
    return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim() || add.error}` };
  }
  // nft must actually work inside a namespace (nf_tables may be missing/blocked).
  const nft = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', ns]);
  if (nft.status !== 0) return { ok: false, reason: `nft does not work in a namespace: ${nft.stderr.trim()}` };
  return { ok: true };
}

/**
 * Gate for kernel e2e suites: `const e2e = requireKernel(); e2e('name', () => ...)`.
 * Returns describe when the prerequisites are there. Otherwise returns describe.skip
 * and prints why -- unless SVCROUTER_REQUIRE_E2E=1, where a silent skip would hide a
 * broken CI runner, so it throws and the test file fails.
 */
export function requireKernel(): typeof describe.skip {
  return gate(e2eAvailable());
}

/** describe if `status` is ok; else describe.skip with the reason printed, or under SVCROUTER_REQUIRE_E2E=1 an error. */
export function gate(status: E2EStatus): typeof describe.skip {
  if (status.ok) return describe;
  if (process.env.SVCROUTER_REQUIRE_E2E === '1') {
    throw new Error(`SVCROUTER_REQUIRE_E2E=1 but kernel e2e prerequisite missing: ${status.reason}`);
  }
  console.warn(`skipping kernel e2e tests: ${status.reason} (set SVCROUTER_REQUIRE_E2E=1 to make this fail)`);
  return describe.skip;
}
