// kernel/nft.ts on a real kernel: small transactions through the in-process
// libnftables context, large ones through an `nft -f` child; both atomic,
// both rejected whole with nft's own message.
import { expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { withBareNamespaces } from '../support/kernel-table.js';

const e2e = requireKernel();

/**
 * Runs applyScript on each script in turn inside `ns`, a text whole or (as
 * { lines }) generated line by line; prints one line per script: "ok" or the error.
 */
async function applyIn(ns: string, scripts: (string | { lines: string[] })[]): Promise<string[]> {
  const code = `
    import { applyScript } from '${process.cwd()}/dist/kernel/nft.js';
    import { readFileSync } from 'node:fs';
    function* generate(lines) { yield* lines; }
    for (const s of JSON.parse(readFileSync(0, 'utf8'))) {
      await applyScript(typeof s === 'string' ? s : generate(s.lines)).then(() => console.log('ok'), (e) => console.log(JSON.stringify(e.constructor.name + ': ' + e.message)));
    }`;
  return (await netnsExec(ns, [process.execPath, '--input-type=module', '-e', code], JSON.stringify(scripts))).trim().split('\n');
}

/** A script of about `bytes` bytes: one set filled with distinct addresses. */
function setScript(bytes: number, set = 'big'): string {
  const n = Math.ceil(bytes / 12);
  const ips = Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const chunks = Array.from({ length: Math.ceil(n / 1000) }, (_, i) => `add element ip t ${set} { ${ips.slice(i * 1000, (i + 1) * 1000).join(', ')} }`);
  return [`add set ip t ${set} { type ipv4_addr ; }`, ...chunks].join('\n') + '\n';
}

const count = async (ns: string, set: string) => (await netnsExec(ns, ['nft', '-j', 'list', 'set', 'ip', 't', set])).split('"10.').length - 1;

e2e('kernel writer', () => {
  it('applies small and large scripts, in order, and deletes', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      const large = setScript(2 << 20); // beyond the in-process limit: the child path
      expect(large.length).toBeGreaterThan(1 << 20);
      const out = await applyIn(ns!, [
        'add table ip t\nadd set ip t small { type ipv4_addr ; }\nadd element ip t small { 10.0.0.1, 10.0.0.2 }\n',
        large,
        'delete element ip t small { 10.0.0.1 }\ndelete element ip t big { 10.0.0.0 }\n',
      ]);
      expect(out).toEqual(['ok', 'ok', 'ok']);
      expect(await count(ns!, 'small')).toBe(1);
      expect(await count(ns!, 'big')).toBe(Math.ceil((2 << 20) / 12) - 1);
    });
  });

  it('streams a large script generated line by line to the child nft, atomically', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      const lines = (script: string) => ({ lines: script.trimEnd().split('\n') });
      const out = await applyIn(ns!, [
        'add table ip t\n',
        lines(setScript(3 << 20)),
        lines(`${setScript(3 << 20, 'other')}add element ip t nosuch { 10.0.0.9 }`),
        lines('add set ip t small { type ipv4_addr ; }\nadd element ip t small { 10.0.0.1 }'),
      ]);
      expect(out[0]).toBe('ok');
      expect(out[1]).toBe('ok');
      expect(out[2]).toMatch(/^"NftError: nft -f exited 1: .*No such file or directory/);
      expect(out[3]).toBe('ok');
      expect(await count(ns!, 'big')).toBe(Math.ceil((3 << 20) / 12));
      expect(await netnsExec(ns!, ['nft', 'list', 'sets'])).not.toMatch(/other/); // the failed stream changed nothing
      expect(await count(ns!, 'small')).toBe(1);
    });
  });

  it('rejects a bad transaction whole, on either path, with nft\'s message, and goes on', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      const bad = 'add element ip t nosuch { 10.0.0.9 }\n';
      const out = await applyIn(ns!, [
        'add table ip t\nadd set ip t small { type ipv4_addr ; }\n',
        `add element ip t small { 10.0.0.1 }\n${bad}`,
        `${setScript(2 << 20)}${bad}`,
        'add element ip t small { 10.0.0.2 }\n',
      ]);
      expect(out[0]).toBe('ok');
      for (const line of [out[1], out[2]]) expect(line).toMatch(/^"NftError: .*No such file or directory/);
      expect(out[3]).toBe('ok');
      expect(await count(ns!, 'small')).toBe(1); // 10.0.0.1 went with its transaction
      expect(await netnsExec(ns!, ['nft', 'list', 'sets'])).not.toMatch(/big/);
    });
  });
});
