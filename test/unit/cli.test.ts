// The CLI's contract that needs no root: output, exit codes and messages.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function svcrouter(...args: string[]) {
  return svcrouterAt('dist/cli/main.js', ...args);
}

function svcrouterAt(main: string, ...args: string[]) {
  const r = spawnSync('node', [main, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const FLAGS = ['--hostname-override', 'node-a', '--cluster-cidr', '10.244.0.0/16'];

describe('svcrouter dump', () => {
  it('prints a script for a cluster, with skipped objects on stderr and exit 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-'));
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {clusterIP: 10.96.0.2, ports: [{port: 0}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n');
    const r = svcrouter('dump', '-f', dir, ...FLAGS);
    expect(r.code).toBe(0);
    expect(r.out).toContain('10.96.0.1 . tcp . 80');
    expect(r.out).not.toContain('10.96.0.2');
    expect(r.err).toMatch(/error: .*a\.yaml#2: Service default\/bad field spec\.ports\[0\]\.port: must be an integer in 1-65535, got 0 \(skipped\)/);
    expect(r.err).toMatch(/warning: .*a\.yaml#3: Deployment d ignored: kind apps\/v1 Deployment is not used by svcrouter/);
  });

  it('fails clearly on a file that is not YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-'));
    writeFileSync(join(dir, 'broken.yaml'), 'kind: Service\nspec: [\n  ports: {\n');
    const r = svcrouter('dump', '-f', join(dir, 'broken.yaml'), ...FLAGS);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^svcrouter: .*broken\.yaml: line \d+: not valid YAML or JSON/);
    expect(r.out).toBe('');
  });

  it('refuses an unknown mode, and bad flag values, naming the flag', () => {
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--proxy-mode', 'iptables', ...FLAGS))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--proxy-mode: "iptables" is not supported/) });
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--ipvsadm', ...FLAGS))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--ipvsadm: needs --proxy-mode ipvs/) });
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--proxy-mode', 'ipvs', '--ipvs-scheduler', 'r r', ...FLAGS))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--ipvs-scheduler: "r r" is not a scheduler name/) });
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--cluster-cidr', '10.0.0.0/40', '--hostname-override', 'n'))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--cluster-cidr: "10\.0\.0\.0\/40" is not a CIDR/) });
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--iptables-masquerade-bit', '32', ...FLAGS))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--iptables-masquerade-bit: must be an integer in 0-31/) });
    expect(svcrouter('dump', '-f', 'no/such/file.yaml', ...FLAGS))
      .toMatchObject({ code: 1, err: expect.stringMatching(/no\/such\/file\.yaml: no such file or directory/) });
  });

  it('masquerade bit 31 renders a valid mark', () => {
    expect(svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--iptables-masquerade-bit', '31', ...FLAGS).out).toContain('meta mark set meta mark | 0x80000000');
  });

  it('uses only the configured masquerade bit', () => {
    const r = svcrouter('dump', '-f', 'test/fixtures/small-cluster.yaml', '--iptables-masquerade-bit', '3', ...FLAGS);
    expect(r.out).toContain('meta mark set meta mark | 0x00000008');
    expect(r.out).toContain('meta mark & 0x00000008 == 0x00000000 return');
    expect(r.out).not.toMatch(/meta mark set (?!meta mark [|^] 0x00000008)/);
  });
});

describe('svcrouter trace', () => {
  const SMALL = ['-f', 'test/fixtures/small-cluster.yaml', ...FLAGS];

  it('explains a flow through manifests step by step, and as one JSON object', () => {
    const text = svcrouter('trace', ...SMALL, '--from', '10.244.1.5', '--to', '10.96.0.10:80');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toBe([
      'TCP 10.244.1.5 -> 10.96.0.10:80, from a pod or another host',
      '  1. 10.244.1.5 is pod traffic: it is inside --cluster-cidr 10.244.0.0/16.',
      '  2. 10.96.0.10:80/TCP is the ClusterIP of Service default/web, port http.',
      '  3. internalTrafficPolicy Cluster: endpoints anywhere in the cluster.',
      '  4. Candidate endpoints (2), one at random per new connection: 10.244.1.11:8080, 10.244.2.21:8080.',
      '  5. Source kept: the endpoint sees 10.244.1.5 (pod traffic to a ClusterIP keeps its source).',
      '=> DNAT to one of 2 endpoints of Service default/web:http; source kept',
      '',
    ].join('\n'));
    const json = svcrouter('trace', ...SMALL, '--from', 'fd00:50::1', '--from-node', '--to', '[fd00:96::10]:80', '-o', 'json');
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ verdict: 'reject', endpoints: [], masquerade: false, service: 'default/web:http', entry: 'clusterIP' });
    expect(json.err).toBe('');
  });

  it('names the flag of a bad flow, and refuses node flags when it is to ask the agent', () => {
    expect(svcrouter('trace', ...SMALL, '--from', '10.244.1.5', '--to', '10.96.0.10'))
      .toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^svcrouter: --to: "10\.96\.0\.10" is not IP:PORT/) });
    expect(svcrouter('trace', ...SMALL, '--from', '10.244.1.5', '--to', '10.96.0.10:80', '-o', 'yaml'))
      .toMatchObject({ code: 1, err: expect.stringMatching(/-o: "yaml" is not json/) });
    expect(svcrouter('trace', '--cluster-cidr', '10.244.0.0/16', '--from', '10.244.1.5', '--to', '10.96.0.10:80'))
      .toMatchObject({ code: 1, err: expect.stringMatching(/--cluster-cidr: only with -f; the agent traces with its own configuration/) });
    expect(svcrouter('trace', '--agent', '127.0.0.1:59999', '--from', '10.244.1.5', '--to', '10.96.0.10:80'))
      .toMatchObject({ code: 1, err: expect.stringMatching(/cannot reach the agent at 127\.0\.0\.1:59999 \(ECONNREFUSED\)/) });
  });

  it('dump and trace never evaluate the API client; run does', () => {
    // The CLI is one bundle: which of its modules ran is what V8's coverage counts. The marker is a
    // top-level statement of client-node's config module, so it runs exactly when that module is evaluated.
    const evaluations = (...args: string[]) => {
      const dir = mkdtempSync(join(tmpdir(), 'svcrouter-cov-'));
      spawnSync('node', ['dist/cli/main.js', ...args], { encoding: 'utf8', env: { ...process.env, NODE_V8_COVERAGE: dir } });
      // (The bundle's whitespace is minified: no spaces around the "=".)
      const at = readFileSync('dist/cli/main.js', 'utf8').search(/SERVICEACCOUNT_ROOT ?= ?"\/var\/run\/secrets\/kubernetes\.io\/serviceaccount"/);
      expect(at).toBeGreaterThan(0);
      const ranges = readdirSync(dir).flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[] }).result)
        .filter((s) => s.url.endsWith('/dist/cli/main.js')).flatMap((s) => s.functions.flatMap((fn) => fn.ranges))
        .filter((r) => r.startOffset <= at && at < r.endOffset)
        .sort((a, b) => (a.endOffset - a.startOffset) - (b.endOffset - b.startOffset));
      return ranges[0]!.count;
    };
    expect(evaluations('trace', ...SMALL, '--from', '10.244.1.5', '--to', '10.96.0.10:80')).toBe(0);
    expect(evaluations('dump', ...SMALL)).toBe(0);
    expect(evaluations('run', '--kubeconfig', '/nonexistent', '--hostname-override', 'node-a')).toBeGreaterThan(0);
  });
});
