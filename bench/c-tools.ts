// The compiled helpers of the first-packet test, built into the scratch
// directory at start so the samples carry no interpreter overhead.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { dir } from './workspace.js';

/** bench/c/, from dist-bench/bench/ where this module runs. */
const SOURCES = fileURLToPath(new URL('../../bench/c/', import.meta.url));

export interface CTools {
  readonly connectTimer: string;
  readonly acceptLoop: string;
}

export function compileCTools(): CTools {
  const build = (name: string) => {
    const out = join(dir, name);
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, join(SOURCES, `${name}.c`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    return out;
  };
  return { connectTimer: build('connect-timer'), acceptLoop: build('accept-loop') };
}
