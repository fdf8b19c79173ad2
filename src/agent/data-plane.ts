// What the agent asks of a data plane (nftables, IPVS): bring the kernel to
// the port decisions, notice when someone else changed what it committed, and
// wake the agent for work of its own. The agent decides when and from what
// view; the plane decides how, and owns what it keeps of the kernel.
import type { ProxyState } from '../state/types.js';
import type { PolicyChange, PortPolicy } from '../policy/port-policy.js';
import type { VirtualServerIndex } from '../backends/ipvs/lookup.js';

/**
 * replace: the kernel rewritten whole from the decisions (at start, after a
 * failure or tampering); reassert: the periodic resync, as cheap as the plane
 * can make a full check; plan: only the changes since the last commit.
 */
export type SyncMode = 'replace' | 'reassert' | 'plan';

export interface PlaneInput {
  readonly state: ProxyState;
  /** The decisions that changed since the last commit. */
  readonly decided: readonly PolicyChange[];
  /** The fixed part (node, ServiceCIDRs, configuration) may have changed. */
  readonly base: boolean;
  /** Every port's current decision. */
  readonly all: () => Iterable<PortPolicy>;
}

export interface Committed {
  readonly bytes: number;
  /** Kernel operations sent: nft commands, netlink requests. */
  readonly operations: number;
  /** nftables: the transactions committed (one, or several for tables created new). */
  readonly transactions?: number;
  readonly computeMs: number;
  readonly renderMs: number;
  readonly commitMs: number;
}

export interface DataPlane {
  /** IPVS mode: the virtual servers as committed, which a trace names. */
  readonly virtualServers?: VirtualServerIndex;
  /** Throws when the kernel refuses; what it holds is then unknown, and the next commit is a replace. */
  commit(mode: SyncMode, input: PlaneInput): Promise<Committed>;
  /**
   * Asked before a sync once something is committed: whether someone else
   * changed what was committed, so that it must be rewritten whole (the plane logs and counts it).
   */
  tampered(): Promise<boolean>;
  /**
   * Asked before a periodic resync: the kernel is known to hold exactly what
   * was last committed, nobody having committed since, so a reassert would
   * change nothing (kube-proxy's periodic sync writes nothing then either).
   */
  unchanged(): Promise<boolean>;
  /**
   * After a whole rewrite, once it is in: clears what the kernel kept from
   * while the rules were missing (nftables: conntrack entries never DNATed).
   */
  afterReplace?(all: () => Iterable<PortPolicy>): Promise<void>;
  /** A commit failed. */
  failed(): void;
  /** Starts the plane's own wake-ups (tamper checks, drains), each asking for a sync; returns how to stop them. */
  watch(request: () => void): () => void;
  close(): Promise<void>;
}
