// npm run bench [-- --smoke | --full] [-- --bare] [-- --out FILE]: the
// benchmark harness (bench/README.md). Root only: it builds network
// namespaces and runs the real agent and nft in them. Prints a table; writes
// every figure as JSON.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileCTools } from './c-tools.js';
import { MODES, type ModeName } from './modes.js';
import { done, elapsedSeconds, step } from './progress.js';
import { renderReport } from './report.js';
import { kilo } from './format.js';
import { sectionErrors, type BenchResult, type SizeResult } from './results.js';
import { runSize } from './run-size.js';
import { evaluateTargets } from './targets.js';

const { values } = parseArgs({ options: { smoke: { type: 'boolean' }, full: { type: 'boolean' }, bare: { type: 'boolean' }, out: { type: 'string' } } });
if (values.smoke && values.full) throw new Error('--smoke and --full exclude each other');
const mode = MODES[(values.smoke ? 'smoke' : values.full ? 'full' : 'quick') satisfies ModeName];
// The agent's API serves objects as a real API server returns them, unless --bare (the generator's objects as they are).
const realistic = !values.bare;
if (process.getuid?.() !== 0) {
  console.error('the bench needs root: it builds network namespaces and programs nftables in them');
  process.exit(1);
}
const tool = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
};
const date = new Date().toISOString().slice(0, 10);
const host = hostname();
// dist-bench/bench/main.js -> the repository, where the agent's entry point dist/cli/main.js lives.
const repo = fileURLToPath(new URL('../../', import.meta.url));
const file = values.out ? resolve(values.out) : resolve(repo, `bench/results/${mode.name === 'smoke' ? 'smoke-' : ''}${date}-${host}${mode.name === 'quick' ? '-quick' : ''}${realistic ? '' : '-bare'}.json`);
process.chdir(repo);
const commit = `${tool('git', ['rev-parse', '--short', 'HEAD'])}${tool('git', ['status', '--porcelain', '--', 'src']) ? '+changes' : ''}`;

step(`${mode.name} mode: sizes ${mode.sizes.join(', ')}; compiling the packet tools`);
const tools = compileCTools();
const environment = { cpus: cpus().length, kernel: release(), nft: tool('nft', ['--version']), node: process.version, commit };
const sizes: SizeResult[] = [];
for (const n of mode.sizes) sizes.push(await runSize(n, mode, tools, realistic));
const result: BenchResult = { mode: mode.name, agentObjects: realistic ? 'realistic' : 'bare', date, host, environment, durationS: Math.round(elapsedSeconds()), sizes, targets: evaluateTargets(sizes) };
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
done();
process.stdout.write(renderReport(result, file));
// A failed section fails the run, so the smoke test notices.
process.exit(sectionErrors(sizes, kilo).length > 0 ? 1 : 0);
