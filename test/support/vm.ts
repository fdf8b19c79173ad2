// Gate and runner for the suites in test/vm/, which need a kernel with IPVS:
// ../shared/tools/vmrun boots one (software emulation, no KVM here) and runs a
// command in it, with this checkout shared read-write.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { describe } from 'vitest';
import { e2eAvailable, gate, type E2EStatus } from './netns.js';

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The workplace keeps vmrun beside the project's checkout, in
 * ../shared/tools. A clone made elsewhere (`git clone . "$(mktemp -d)"`, as CI
 * checks a clean checkout) finds it beside the repository it was cloned from.
 */
function findVmrun(): string {
  const beside = (dir: string) => resolve(dir, '../shared/tools/vmrun');
  const here = beside(CHECKOUT);
  if (existsSync(here)) return here;
  let origin = '';
  try {
    origin = execFileSync('git', ['-C', CHECKOUT, 'config', '--get', 'remote.origin.url'], { encoding: 'utf8' }).trim();
  } catch {
    // not a clone
  }
  const local = origin.startsWith('file://') ? fileURLToPath(origin) : origin;
  return local && isAbsolute(local) && existsSync(beside(local)) ? beside(local) : here;
}

export const VMRUN = findVmrun();

function vmAvailable(): E2EStatus {
  const kernel = e2eAvailable(); // root, above all
  if (!kernel.ok) return kernel;
  try {
    accessSync(VMRUN, constants.X_OK);
    return { ok: true };
  } catch {
    return { ok: false, reason: `${VMRUN} is missing or not executable` };
  }
}

/** Like requireKernel, for suites that boot the VM. */
export function requireVm(): typeof describe.skip {
  return gate(vmAvailable());
}
