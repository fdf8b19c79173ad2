// Per-run scratch space: a temp directory for scripts, manifests and compiled
// tools, and a name prefix unique to this run for every namespace it makes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit } from './cleanup.js';

export const dir = mkdtempSync(join(tmpdir(), 'svcrouter-bench-'));
atExit(() => rmSync(dir, { recursive: true, force: true }));

/** "srb" + 4 random hex digits: every namespace (and the API veth) of this run starts with it. */
const RUN_PREFIX = `srb${randomBytes(2).toString('hex')}`;
let counter = 0;
/** A fresh name under the run prefix, short enough for createTopology (prefix + "api" <= 15 chars). */
export const uniqueName = () => `${RUN_PREFIX}${(counter++).toString(36)}`;

/** Writes a file into the scratch directory; returns its path. */
export function scratchFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
