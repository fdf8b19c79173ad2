// Generic netlink (linux/genetlink.h): a 4-byte header (command, version)
// after the netlink header, and families such as "IPVS" found by name.
import { execTool } from '../exec.js';
import { AttributeWriter, parseAttributes, readU16 } from './attributes.js';
import { NetlinkError } from './errors.js';
import type { Request } from './exchange.js';
import type { NetlinkMessage } from './message.js';
import type { NetlinkSocket } from './socket.js';

const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const ENOENT = 2;

/** A writer with the generic netlink header (command, version) in place; attributes follow. */
export function genlWriter(cmd: number, version: number): AttributeWriter {
  return new AttributeWriter().raw(Uint8Array.of(cmd, version, 0, 0));
}

/** The attributes of a generic netlink message. */
export function genlAttributes(msg: NetlinkMessage): Map<number, Buffer> {
  return parseAttributes(msg.payload.subarray(4));
}

export function familyRequest(name: string): Request {
  return { type: GENL_ID_CTRL, payload: genlWriter(CTRL_CMD_GETFAMILY, 1).string(CTRL_ATTR_FAMILY_NAME, name).bytes() };
}

export function decodeFamilyId(msg: NetlinkMessage): number {
  const id = genlAttributes(msg).get(CTRL_ATTR_FAMILY_ID);
  if (!id) throw new Error('generic netlink family reply without CTRL_ATTR_FAMILY_ID');
  return readU16(id);
}

/**
 * The id of family `name`. A family exists only while its module is loaded,
 * so when it is missing `module` is loaded (as kube-proxy and moby do) and
 * the lookup tried once more.
 */
export async function resolveFamily(socket: NetlinkSocket, name: string, module: string): Promise<number> {
  let [reply] = await socket.exchange([familyRequest(name)]);
  let note = '';
  if (reply!.errno === ENOENT) {
    const r = await execTool('modprobe', [module]).catch((e: Error) => ({ code: -1, stderr: e.message }));
    note = r.code === 0 ? ` (after modprobe ${module})` : ` (modprobe ${module} failed: ${r.stderr.trim()})`;
    [reply] = await socket.exchange([familyRequest(name)]);
  }
  if (reply!.errno) throw new NetlinkError(`find generic netlink family ${name}${note}`, reply!.errno);
  return decodeFamilyId(reply!.messages[0]!);
}
