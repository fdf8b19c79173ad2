// Runs one of the harness's own scripts (compiled next to this module) with
// node inside a namespace, as its own process, and reads the JSON object it
// prints as its last line of output.
import { fileURLToPath } from 'node:url';
import { netnsExec } from '../test/support/netns.js';

export async function runNodeScript<T>(ns: string, script: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<T> {
  const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
  const out = await netnsExec(ns, [process.execPath, ...nodeFlags, path, ...args]);
  const last = out.trimEnd().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script}: no JSON result; its output ended with: ${out.slice(-500)}`);
  }
}
