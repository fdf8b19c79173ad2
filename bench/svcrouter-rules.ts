// svcrouter's ruleset for a synthetic cluster, from its own CLI (`svcrouter
// dump`, the public, kernel-free path): the full script, the one-service-add
// plan and its reverse, and a one-element transaction against that table.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_CIDRS, NODE_NAME, type Raw } from './synthetic-cluster.js';
import { dir, scratchFile } from './workspace.js';

const FLAGS = ['--hostname-override', NODE_NAME, '--cluster-cidr', CLUSTER_CIDRS];

export function writeManifests(name: string, objects: readonly Raw[]): string {
  return scratchFile(`${name}.json`, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

/** `svcrouter dump -f files [--base base]` into a script file; any object it skips is an error of the generator. */
export function dump(name: string, files: readonly string[], base?: readonly string[]): Promise<string> {
  const out = join(dir, `${name}.nft`);
  const fd = openSync(out, 'w');
  const args = ['dist/cli/main.js', 'dump', '-f', ...files, ...(base ? ['--base', ...base] : []), ...FLAGS];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(fd);
      const errors = stderr.split('\n').filter((l) => l.startsWith('error:') || l.startsWith('svcrouter:'));
      if (code !== 0 || errors.length > 0) reject(new Error(`svcrouter dump (${name}): exit ${code}: ${errors.slice(0, 3).join('; ') || stderr.trim().slice(0, 500)}`));
      else resolve(out);
    });
  });
}

export interface RulesetSize {
  readonly bytes: number;
  readonly chains: number;
  readonly elements: number;
}

export function rulesetSize(script: string): RulesetSize {
  let chains = 0;
  let elements = 0;
  for (const line of script.split('\n')) {
    if (line.startsWith('add chain ')) chains++;
    else if (line.startsWith('add element ')) elements += line.split(', ').length;
  }
  return { bytes: Buffer.byteLength(script), chains, elements };
}

/** A key no generated service uses: inside the ServiceCIDR, above the first million VIPs. */
const SPARE_VIP = '10.111.255.254';

/**
 * One element added to, then deleted from, svcrouter's biggest IPv4-keyed map
 * (the backends of the most common endpoint count): what an endpoint change
 * costs the kernel at least, with a key that no traffic or agent uses.
 */
export function oneElementScripts(scriptFile: string): { add: string; delete: string } {
  const maps = new Map<string, { first: string; count: number }>();
  for (const line of readFileSync(scriptFile, 'utf8').split('\n')) {
    const m = /^add element (ip \S+ \S+) \{ (\d+\.\d+\.\d+\.\d+ [^,}]* : [^,}]*?)(?:, | \})/.exec(line);
    if (!m) continue;
    const seen = maps.get(m[1]) ?? maps.set(m[1], { first: m[2], count: 0 }).get(m[1])!;
    seen.count += line.split(', ').length;
  }
  const biggest = [...maps].sort(([, a], [, b]) => b.count - a.count)[0];
  if (!biggest) throw new Error(`no IPv4-keyed map in ${scriptFile}`);
  const [head, { first }] = biggest;
  const element = first.replace(/^\S+/, SPARE_VIP);
  const key = element.split(' : ')[0].split(' comment ')[0];
  return { add: `add element ${head} { ${element} }\n`, delete: `delete element ${head} { ${key} }\n` };
}
