// Runs `svcrouter run` as a child process inside the node's namespace, with a
// kubeconfig that points at the fake API server, and reads its JSON logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsExec } from './netns.js';

export interface AgentProcess {
  readonly child: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, any>[];
  waitForLog(match: (line: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>;
  /** SIGTERM, and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export function writeKubeconfig(server: string, token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'svcrouter-kc-'));
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'test',
    clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'svcrouter', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'fake', user: 'svcrouter' } }],
  }));
  return file;
}

export function startAgentProcess(ns: string, args: string[], env: NodeJS.ProcessEnv = process.env): AgentProcess {
  // The bin itself, as the image runs it: its first line holds the node flags the agent runs with.
  const child = spawn('ip', ['netns', 'exec', ns, 'dist/cli/main.js', 'run', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, any>[] = [];
  const waiters: { match: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
  let buf = '';
  const onLine = (line: string) => {
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(line) as Record<string, any>;
    } catch {
      parsed = { msg: line, level: 60 };
    }
    logs.push(parsed);
    for (const w of [...waiters]) if (w.match(parsed)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(parsed); }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => d.split('\n').filter(Boolean).forEach((l) => onLine(l)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    waitForLog(match, ms = 20_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching agent log within ${ms} ms; last lines: ${JSON.stringify(logs.slice(-5))}`)), ms);
        waiters.push({ match, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** GET a URL from inside a namespace: [status, body]. */
export async function httpGetIn(ns: string, url: string): Promise<[number, string]> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(JSON.stringify([r.status, await r.text()])), (e) => process.stdout.write(JSON.stringify([0, String(e)])))`;
  return JSON.parse(await netnsExec(ns, [process.execPath, '-e', script])) as [number, string];
}
