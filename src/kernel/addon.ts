// Loads one of svcrouter's N-API addons (built by build-addon.sh into
// dist/kernel/). Resolved from this module's own place two levels below the
// package root, which holds whether it runs as compiled modules
// (dist/kernel/), from the TypeScript sources (src/kernel/, in tests) or
// bundled into the CLI (dist/cli/main.js).
import { createRequire } from 'node:module';

export function loadAddon<T>(name: string): T {
  return createRequire(import.meta.url)(new URL(`../../dist/kernel/${name}.node`, import.meta.url).pathname) as T;
}
