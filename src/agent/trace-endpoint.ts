// GET /trace on the metrics listener: one flow through what the kernel holds
// now, that is the decisions of the last successful commit and the objects
// skipped then. Answered to clients on the node itself only: the listener may
// be bound wider for scraping, and a trace shows any Service's endpoints.
import type { RequestListener, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import { parseIP } from '../state/addr.js';
import type { Issue } from '../state/issues.js';
import type { Cidr, NodeInfo, ProxyState } from '../state/types.js';
import type { PolicyChange, PortPolicy } from '../policy/port-policy.js';
import type { VirtualServerIndex } from '../backends/ipvs/lookup.js';
import { localAddresses } from '../kernel/local-addresses.js';
import { FlowError, flowFromQuery } from '../trace/flow.js';
import { ownAddresses, traceFlow, type TraceView } from '../trace/trace.js';

/** The decisions as committed: kept by applying each commit's changes, so a sync costs what changed. */
export class ProgrammedView implements TraceView {
  private readonly byId = new Map<string, PortPolicy>();
  private base: { node: NodeInfo; serviceCIDRs: readonly Cidr[]; issues: readonly Issue[] } | undefined;

  /** ipvs: IPVS mode's virtual servers, kept by its data plane. */
  constructor(readonly ipvs?: VirtualServerIndex) {}

  /** After a successful commit: the port decisions it carried (each port's latest), and the state and problems it was made from. */
  commit(changes: Iterable<PolicyChange>, state: ProxyState, issues: readonly Issue[]): void {
    for (const { id, after } of changes) {
      if (after) this.byId.set(id, after);
      else this.byId.delete(id);
    }
    this.base = { node: state.node, serviceCIDRs: state.serviceCIDRs, issues };
  }

  get programmed(): boolean {
    return this.base !== undefined;
  }

  get node(): NodeInfo {
    return this.base!.node;
  }

  get serviceCIDRs(): readonly Cidr[] {
    return this.base!.serviceCIDRs;
  }

  get issues(): readonly Issue[] {
    return this.base!.issues;
  }

  get policies(): Iterable<PortPolicy> {
    return this.byId.values();
  }
}

export function traceHandler(view: ProgrammedView, cfg: Config): RequestListener {
  return (req, res) => {
    const own = ownAddresses(localAddresses());
    const peer = parseIP(req.socket.remoteAddress);
    if (!peer || !own(peer.ip)) return answer(res, 403, { error: 'trace answers clients on this node only' });
    if (!view.programmed) return answer(res, 503, { error: 'nothing is programmed yet: the first sync has not committed' });
    try {
      answer(res, 200, traceFlow(view, cfg, flowFromQuery(new URL(req.url ?? '/', 'http://x').searchParams), own));
    } catch (e) {
      if (!(e instanceof FlowError)) throw e;
      answer(res, 400, { error: e.message });
    }
  };
}

function answer(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
  res.end(`${JSON.stringify(body)}\n`);
}
