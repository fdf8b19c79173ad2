// The node's own addresses, as its interfaces hold them now.
import { networkInterfaces } from 'node:os';

export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}
