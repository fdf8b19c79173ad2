// The tests' traffic helpers (test/support/c/): compiled once into dist/ with
// the system cc, and again only when their source is newer. C, not node: inside
// the emulated VM a node process takes seconds to start, and the kernel tests
// start one probe per connect() and an echo server per pod.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCES = new URL('./c/', import.meta.url);
const OUT = fileURLToPath(new URL('../../dist/test-tools/', import.meta.url));

export type CTool = 'probe' | 'echo-server';

export function cTool(name: CTool): string {
  const src = fileURLToPath(new URL(`${name}.c`, SOURCES));
  const bin = `${OUT}${name}`;
  const mtime = (p: string) => { try { return statSync(p).mtimeMs; } catch { return -1; } };
  if (mtime(bin) < mtime(src)) {
    mkdirSync(OUT, { recursive: true });
    // Built aside and renamed: test files in parallel workers may race to build it.
    const tmp = `${bin}.${process.pid}`;
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, bin);
  }
  return bin;
}
