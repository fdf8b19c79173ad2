// The netlink socket (kernel/netlink/socket.ts, netlink-addon.c) on a real
// kernel: an exchange sent inline (from the event loop) answers exactly as
// one sent through the thread pool, a dump too large for one receive
// included, and replies are taken inline only when the kernel has queued
// them: a socket with nothing queued says so and does not wait.
import { expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { withBareNamespaces } from '../support/kernel-table.js';

const e2e = requireKernel();

/** Chains enough that their rules' dump spans several receives (a receive takes at most 256 KiB). */
const CHAINS = 4000;

function bigTable(): string {
  const lines = ['table ip svcrouter {'];
  for (let i = 0; i < CHAINS; i++) lines.push(`  chain c${i} { ip daddr 10.${i >> 8}.${i & 255}.1 tcp dport 80 counter accept comment "${'x'.repeat(100)}" ; }`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

e2e('the netlink socket', () => {
  it('answers an inline exchange as a pooled one, a dump of several receives included; a refused inline transaction commits nothing', async () => {
    await withBareNamespaces(1, async ([x]) => {
      await netnsExec(x!, ['nft', '-f', '-'], bigTable());
      const code = `
        import { NetlinkSocket } from '${process.cwd()}/dist/kernel/netlink/socket.js';
        import { NETLINK_NETFILTER, batchMarkers, chainsRequest, decodeGeneration, deleteElementsRequest, generationRequest, rulesRequest } from '${process.cwd()}/dist/kernel/nftables/messages.js';
        const socket = NetlinkSocket.open(NETLINK_NETFILTER);
        const requests = () => [generationRequest(), chainsRequest('ip'), rulesRequest('ip', 'svcrouter')];
        const summary = (replies) => replies.map((r) => ({ errno: r.errno, messages: r.messages.length, bytes: r.messages.reduce((n, m) => n + m.payload.length, 0) }));
        const pooled = summary(await socket.exchange(requests()));
        const inline = summary(await socket.exchange(requests(), { inline: true }));
        const generation = async () => decodeGeneration((await socket.exchange([generationRequest()], { inline: true }))[0].messages[0]);
        const before = await generation();
        const { begin, end } = batchMarkers();
        const refused = (await socket.transaction(begin, [deleteElementsRequest('ip', 'svcrouter', 'no-such-set', new Uint8Array())], end, { inline: true })).map((r) => r.errno);
        const after = await generation();
        await socket.close();
        console.log(JSON.stringify({ pooled, inline, refused, before, after }));`;
      const r = JSON.parse(await netnsExec(x!, [process.execPath, '--input-type=module', '-e', code])) as {
        pooled: { errno: number; messages: number; bytes: number }[]; inline: typeof r.pooled; refused: number[]; before: number; after: number;
      };
      expect(r.pooled.map((p) => p.errno)).toEqual([0, 0, 0]);
      expect(r.pooled[1]!.messages).toBe(CHAINS);
      expect(r.pooled[2]!.messages).toBe(CHAINS);
      // Several receives' worth: the dump did not fit one.
      expect(r.pooled[2]!.bytes).toBeGreaterThan(3 * (256 << 10));
      expect(r.inline).toEqual(r.pooled);
      expect(r.refused).toEqual([2]); // ENOENT
      expect(r.after).toBe(r.before);
    });
  });

  it('takes inline only what is queued: nothing queued is undefined at once', async () => {
    await withBareNamespaces(1, async ([x]) => {
      const code = `
        import { loadAddon } from '${process.cwd()}/dist/kernel/addon.js';
        const addon = loadAddon('netlink');
        const sock = addon.open(12);
        const nothing = addon.receiveNow(sock); // MSG_DONTWAIT: a wait here would hang the test
        // A request answered inside sendmsg: its reply is queued when sendNow returns.
        const msg = Buffer.alloc(20);
        msg.writeUInt32LE(20, 0); msg.writeUInt16LE((10 << 8) | 16, 4); msg.writeUInt16LE(1, 6); msg.writeUInt32LE(7, 8);
        addon.sendNow(sock, msg);
        const reply = addon.receiveNow(sock);
        const again = addon.receiveNow(sock);
        addon.close(sock);
        let closed;
        try { addon.receiveNow(sock); } catch (e) { closed = e.message; }
        console.log(JSON.stringify({ nothing: nothing === undefined, replySeq: reply.readUInt32LE(8), replyType: reply.readUInt16LE(4), again: again === undefined, closed }));`;
      const r = JSON.parse(await netnsExec(x!, [process.execPath, '--input-type=module', '-e', code])) as Record<string, unknown>;
      expect(r).toMatchObject({ nothing: true, replySeq: 7, replyType: (10 << 8) | 15, again: true, closed: 'the netlink socket is closed' });
    });
  });
});
