// IPVS mode's whole desired state from the port decisions: what `dump
// --proxy-mode ipvs` prints.
import type { Config } from '../../config/config.js';
import type { ProxyState } from '../../state/types.js';
import { decideAll, everyPort, type PortPolicy } from '../../policy/port-policy.js';
import type { HostAddresses } from './family.js';
import { IncrementalIpvs } from './incremental.js';
import type { IpvsPlan } from './model.js';

/** `host` defaults to the Node object's addresses, as `dump` has no kernel to ask. */
export function desiredIpvs(state: ProxyState, cfg: Config, host: HostAddresses = state.node.addresses, policies: readonly PortPolicy[] = decideAll(state)): IpvsPlan {
  return desiredIpvsState(state, cfg, host, policies).plan();
}

/** The same desired state, to be looked up rather than printed (`trace`). */
export function desiredIpvsState(state: ProxyState, cfg: Config, host: HostAddresses, policies: readonly PortPolicy[]): IncrementalIpvs {
  const inc = new IncrementalIpvs(cfg);
  inc.update(state, host, everyPort(policies), false);
  return inc;
}
