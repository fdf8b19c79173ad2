// Writes sysctls through /proc/sys, in this process's network namespace.
import { writeFile } from 'node:fs/promises';

export async function writeSysctls(settings: readonly { name: string; value: string }[]): Promise<void> {
  for (const s of settings) {
    try {
      await writeFile(`/proc/sys/${s.name.replaceAll('.', '/')}`, s.value);
    } catch (e) {
      throw new Error(`sysctl ${s.name}=${s.value}: ${(e as Error).message}`);
    }
  }
}
