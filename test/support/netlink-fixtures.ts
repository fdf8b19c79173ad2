// Kernel replies captured in the VM (test/fixtures/netlink/*.hex) and how each
// decodes. Unit tests hold the decoding to hand-checked values; the VM suite
// holds the fixtures to what the kernel sends today, and rewrites them with
// SVCROUTER_WRITE_FIXTURES=1.
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ReplyCollector, type Reply } from '../../src/kernel/netlink/exchange.js';
import { parseMessages } from '../../src/kernel/netlink/message.js';
import { decodeFamilyId } from '../../src/kernel/netlink/generic.js';
import { decodeInfo, decodeRealServer, decodeTimeouts, decodeVirtualServer } from '../../src/kernel/ipvs/messages.js';
import { decodeAddress } from '../../src/kernel/links/messages.js';
import type { VirtualServer } from '../../src/kernel/ipvs/model.js';

const DIR = fileURLToPath(new URL('../fixtures/netlink/', import.meta.url));

/** Each fixture: what it is (the file's header) and what the test reads out of it. */
export const FIXTURES = {
  'genl-getfamily-ipvs': { what: 'CTRL_CMD_GETFAMILY "IPVS": the family, then the ACK', decode: (r: Reply) => decodeFamilyId(r.messages[0]!) },
  'ipvs-get-service-dump': { what: 'IPVS_CMD_GET_SERVICE dump: the services of the VM suite\'s fixture state, a firewall-mark one among them', decode: (r: Reply) => r.messages.map(decodeVirtualServer).sort(byKey) },
  'ipvs-get-dest-dump': { what: 'IPVS_CMD_GET_DEST dump of TCP 10.96.0.1:80 after one connection attempt: counters, a drained server, thresholds', decode: (r: Reply) => r.messages.map((m) => decodeRealServer(m, 'ipv4')) },
  'ipvs-new-dest-esrch': { what: 'NLMSG_ERROR for IPVS_CMD_NEW_DEST to a service that does not exist (ESRCH), echoing the request', decode: (r: Reply) => r.errno },
  'ipvs-get-info': { what: 'IPVS_CMD_GET_INFO reply, then the ACK', decode: (r: Reply) => decodeInfo(r.messages[0]!) },
  'ipvs-get-config': { what: 'IPVS_CMD_GET_CONFIG reply after setting the timeouts to 1000/60/200, then the ACK', decode: (r: Reply) => decodeTimeouts(r.messages[0]!) },
  'rtm-getaddr-dump': { what: 'RTM_GETADDR dump: lo; kube-ipvs0 with one IPv4 and one IPv6 service address; rs0 with the route to the real servers', decode: (r: Reply) => r.messages.map(decodeAddress) },
} as const;

/** Services sorted (the kernel dumps them in the order of a hash seeded per namespace); the ones decoded as undefined last. */
function byKey(a: VirtualServer | undefined, b: VirtualServer | undefined): number {
  const key = (v: VirtualServer | undefined) => (v ? `${v.protocol} ${v.address} ${v.port}` : '~');
  return key(a).localeCompare(key(b));
}

export type FixtureName = keyof typeof FIXTURES;

/** The one request's reply the bytes hold (all of it: a dump's parts up to DONE, or the answer and its ACK). */
export function replyIn(bytes: Buffer): Reply {
  const seq = parseMessages(bytes)[0]!.seq;
  const c = new ReplyCollector([seq]);
  c.add(bytes);
  if (!c.complete) throw new Error('the fixture ends before its reply does');
  return c.replies()[0]!;
}

export function decodeFixture(name: FixtureName, bytes: Buffer): unknown {
  return FIXTURES[name].decode(replyIn(bytes));
}

export function readFixture(name: FixtureName): Buffer {
  const text = readFileSync(`${DIR}${name}.hex`, 'utf8');
  return Buffer.from(text.split('\n').filter((l) => !l.startsWith('#')).join('').replace(/\s/g, ''), 'hex');
}

export function writeFixture(name: FixtureName, bytes: Buffer): void {
  const hex = bytes.toString('hex').match(/.{1,8}/g)!;
  const lines = Array.from({ length: Math.ceil(hex.length / 8) }, (_, i) => hex.slice(i * 8, i * 8 + 8).join(' '));
  const header = [`# ${FIXTURES[name].what}.`, `# Captured from kernel ${release()} by test/vm/ipvs-kernel.test.ts (SVCROUTER_WRITE_FIXTURES=1).`];
  writeFileSync(`${DIR}${name}.hex`, [...header, ...lines, ''].join('\n'));
}
