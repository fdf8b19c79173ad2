// The command line as a user runs it: `svcrouter apply/cleanup/dump` against
// a real kernel in a bare network namespace.
import { expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { requireKernel, netnsExec, run } from '../support/netns.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';

const e2e = requireKernel();
const CLI = ['node', 'dist/cli/main.js'];
const FLAGS = ['--hostname-override', 'node-a', '--cluster-cidr', '10.244.0.0/16,fd00:244::/32'];
const SMALL = 'test/fixtures/small-cluster.yaml';
const SCALED = 'test/fixtures/small-cluster-scaled.yaml';

const svcrouter = (ns: string, ...args: string[]) => netnsExec(ns, [...CLI, ...args]);
const ruleset = (ns: string) => netnsExec(ns, ['nft', 'list', 'ruleset']);

e2e('svcrouter CLI on a real kernel', () => {
  it('apply then cleanup leaves the kernel exactly as before, other tables untouched', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      await netnsExec(ns!, ['nft', '-f', '-'], 'add table inet someone-else\nadd chain inet someone-else input { type filter hook input priority 0 ; }\nadd rule inet someone-else input tcp dport 22 accept\n');
      const before = await ruleset(ns!);
      await svcrouter(ns!, 'apply', '-f', SMALL, ...FLAGS);
      expect(await ruleset(ns!)).toMatch(/table ip svcrouter[\s\S]*table ip6 svcrouter/);
      await svcrouter(ns!, 'cleanup');
      expect(await ruleset(ns!)).toBe(before);
      await svcrouter(ns!, 'cleanup'); // nothing left to remove is not an error
    });
  });

  it('apply twice is idempotent', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      await svcrouter(ns!, 'apply', '-f', SMALL, ...FLAGS);
      const once = await readTables(ns!);
      await svcrouter(ns!, 'apply', '-f', SMALL, ...FLAGS);
      expect(await readTables(ns!)).toBe(once);
    });
  });

  it('cleanup --kube-proxy also removes kube-proxy\'s tables', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      await netnsExec(ns!, ['nft', '-f', '-'], 'add table ip kube-proxy\nadd table ip6 kube-proxy\n');
      await svcrouter(ns!, 'apply', '-f', SMALL, ...FLAGS);
      await svcrouter(ns!, 'cleanup', '--kube-proxy');
      expect((await ruleset(ns!)).trim()).toBe('');
    });
  });

  it('run --cleanup (kube-proxy\'s flag) removes both proxies\' tables and exits, accepting kube-proxy flags that do not apply', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      await netnsExec(ns!, ['nft', '-f', '-'], 'add table ip kube-proxy\nadd table ip6 kube-proxy\n');
      await svcrouter(ns!, 'apply', '-f', SMALL, ...FLAGS);
      const r = spawnSync('ip', ['netns', 'exec', ns!, ...CLI, 'run', '--cleanup', '--conntrack-max-per-core=0', '--oom-score-adj', '-999'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/flag --conntrack-max-per-core does not apply to svcrouter; ignored/);
      expect((await ruleset(ns!)).trim()).toBe('');
    });
  });

  it('dump loads on an empty kernel, and dump --base takes it to the new state', async () => {
    await withBareNamespaces(2, async ([a, b]) => {
      const full = await run([...CLI, 'dump', '-f', SMALL, ...FLAGS]);
      const delta = await run([...CLI, 'dump', '-f', SCALED, '--base', SMALL, ...FLAGS]);
      expect(delta).toMatch(/^add element ip svcrouter vip-3-backends \{ 10\.96\.0\.10 \. tcp \. 80 \. 0 : 10\.244\.1\.11 \. 8080/m);
      expect(delta).not.toMatch(/delete table|add table/);
      await netnsExec(a!, ['nft', '-f', '-'], full);
      await netnsExec(a!, ['nft', '-f', '-'], delta);
      await netnsExec(b!, ['nft', '-f', '-'], await run([...CLI, 'dump', '-f', SCALED, ...FLAGS]));
      expect(await readTables(a!)).toBe(await readTables(b!));
    });
  });

  it('the example cluster dumps cleanly and loads', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      const script = await run(['npm', 'start', '--silent']);
      expect(script).toMatch(/^add table ip svcrouter$/m);
      await netnsExec(ns!, ['nft', '-f', '-'], script);
      expect(await netnsExec(ns!, ['nft', 'list', 'set', 'ip', 'svcrouter', 'service-ips-vip-dispatch'])).toMatch(/10\.96\.0\.10 \. udp \. 53/);
    });
  });
});
