// Runs one kernel tool (nft, conntrack) to completion: stdin in, exit code and output back.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `input` is the whole of stdin, or chunks of it written as they come (so a
 * large input is never held whole); `env`, variables added to this process's.
 */
export function execTool(cmd: string, args: readonly string[], input: string | Iterable<string> = '', env: Readonly<Record<string, string>> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the tool may exit before reading everything; the exit code tells
    void feed(child.stdin, input);
  });
}

async function feed(stdin: Writable, input: string | Iterable<string>): Promise<void> {
  if (typeof input === 'string') return void stdin.end(input);
  try {
    for (const chunk of input) {
      if (stdin.destroyed) return;
      if (!stdin.write(chunk)) await Promise.race([once(stdin, 'drain'), once(stdin, 'close')]);
    }
  } catch {
    return; // the tool went away mid-input: its exit code tells
  }
  stdin.end();
}
