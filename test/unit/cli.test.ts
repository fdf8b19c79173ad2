// The CLI's contract that needs no root: output, exit codes and messages.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function svcrouter(...args: string[]) {
  const r = spawnSync('node', ['dist/cli/main.js', ...args], { encoding: 'utf8' });
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
