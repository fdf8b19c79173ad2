// Gate and runner for the suites in test/vm/, which need a kernel with IPVS:
// ../shared/tools/vmrun boots one (software emulation, no KVM here) and runs a
// command in it, with this checkout shared read-write.
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { describe } from 'vitest';
import { e2eAvailable, gate, type E2EStatus } from './netns.js';

export const VMRUN = fileURLToPath(new URL('../../../shared/tools/vmrun', import.meta.url));

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
