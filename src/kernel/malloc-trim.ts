// Gives the C heap's free pages back to the kernel (malloc-addon.c). Without
// the addon (a build without a C compiler) it does nothing: RSS is only higher.
import { loadAddon } from './addon.js';

let addon: { trim(): boolean } | null | undefined;

export function trimMalloc(): void {
  if (addon === undefined) {
    try {
      addon = loadAddon<{ trim(): boolean }>('malloc');
    } catch {
      addon = null;
    }
  }
  addon?.trim();
}
