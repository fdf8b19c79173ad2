// The CLI exactly as the README tells a user to run it: `npx svcrouter ...`
// through the package's bin, on a build emitted from scratch, and again after
// the build output is removed and emitted anew (npx links the bin once and
// reuses the link, so only an executable bin survives a rebuild).
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'svcrouter-bin-'));
// A private npm cache: npx's links of this checkout must be made by this test, not found from earlier runs.
const env = { ...process.env, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_fund: 'false' };

function inWork(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { cwd: work, env, encoding: 'utf8', input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const npx = (args: string[], input?: string) => inWork('npx', ['--yes', 'svcrouter', ...args], input);
const DUMP = ['dump', '-f', join(repo, 'examples/cluster'), '--hostname-override', 'node-a'];

function freshBuild(): void {
  rmSync(join(work, 'dist'), { recursive: true, force: true });
  const r = inWork('npm', ['run', 'build', '--silent']);
  expect(r.code, r.err).toBe(0);
  expect(statSync(join(work, 'dist/cli/main.js')).mode & 0o111).toBe(0o111);
}

beforeAll(() => {
  for (const f of ['package.json', 'tsconfig.json', 'src']) cpSync(join(repo, f), join(work, f), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'));
  freshBuild();
});

describe('npx svcrouter', () => {
  it('dumps the example cluster from a fresh build, and again after the build is removed and redone', () => {
    const first = npx(DUMP);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^add table ip svcrouter$/m);
    freshBuild();
    const again = npx(DUMP);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe(first.out);
  });

  it('is one bundle: it runs with no node_modules beside it, as in the image', () => {
    const image = mkdtempSync(join(tmpdir(), 'svcrouter-image-'));
    cpSync(join(work, 'dist/cli/main.js'), join(image, 'dist/cli/main.js'));
    cpSync(join(work, 'package.json'), join(image, 'package.json'));
    const r = spawnSync(process.execPath, [join(image, 'dist/cli/main.js'), ...DUMP], { cwd: image, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(npx(DUMP).out);
    rmSync(image, { recursive: true, force: true });
  });

  it("leaves out whatwg-url, which node-fetch would take only where Node has no URL of its own", () => {
    const bin = readFileSync(join(work, 'dist/cli/main.js'), 'utf8');
    // Booleans, not the bin itself: a failure should not print 800 kB.
    expect(bin.includes('node_modules/node-fetch/lib/index.js')).toBe(true);
    expect(/Url\.URL\s*\|\|\s*whatwgUrl\.URL/.test(bin)).toBe(true);
    expect(bin.includes('node_modules/whatwg-url/')).toBe(false);
    expect(bin.includes('node_modules/tr46/')).toBe(false);
  });

  it('prints its version with --version and version, as kube-proxy --version does', () => {
    const { version } = JSON.parse(inWork('cat', ['package.json']).out) as { version: string };
    expect(npx(['--version'])).toMatchObject({ code: 0, out: `svcrouter v${version}\n` });
    expect(npx(['version'])).toMatchObject({ code: 0, out: `svcrouter v${version}\n` });
  });

  it('reads manifests from standard input with -f - and --base -, as kubectl does', () => {
    // What `kubectl get services,endpointslices,nodes -A -o yaml` prints: one List.
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.9', ports: [{ name: 'http', port: 80 }] } },
    ] });
    const fromStdin = npx(['dump', '-f', '-', '--hostname-override', 'node-a'], list);
    expect(fromStdin.code, fromStdin.err).toBe(0);
    expect(fromStdin.out).toContain('add element ip svcrouter no-endpoint-services-reject-chain { 10.96.0.9 . tcp . 80 comment "default/web:http/tcp" }');
    const delta = npx(['dump', '-f', join(repo, 'examples/cluster'), '--base', '-', '--hostname-override', 'node-a'], list);
    expect(delta.code, delta.err).toBe(0);
    expect(delta.out).toMatch(/^delete element ip svcrouter no-endpoint-services-reject-chain \{ 10\.96\.0\.9 \. tcp \. 80 \}$/m);
    expect(npx(['dump', '-f', '-', '--base', '-'], list)).toMatchObject({ code: 1, err: expect.stringMatching(/standard input can be read once/) });
  });
});
