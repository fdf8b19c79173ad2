// `svcrouter trace`: one flow through this node, from manifests as dump
// reads them, or from the running agent: what is programmed now.
import { ConfigError, loadConfig, type FlagValues } from '../config/load.js';
import { parseBindAddress } from '../config/bind-address.js';
import { loadManifests } from '../manifests/load.js';
import { parseIP } from '../state/addr.js';
import { flowQuery, parseFlow, type Flow, type FlowArgs } from '../trace/flow.js';
import { formatReport } from '../trace/format.js';
import type { TraceReport } from '../trace/trace.js';
import { decideCluster, reportProblems, traceDecided } from './pipeline.js';

export const DEFAULT_AGENT = '127.0.0.1:10249';

export interface TraceOptions extends FlagValues, FlowArgs {
  readonly filename?: string[];
  readonly nodeAddresses?: string;
  readonly agent?: string;
  readonly output?: string;
}

/** Flags that describe the node to trace on, which a running agent knows itself. */
const OFFLINE_ONLY = ['config', 'proxyMode', 'hostnameOverride', 'nodeIp', 'clusterCidr', 'detectLocalMode', 'podBridgeInterface',
  'podInterfaceNamePrefix', 'nodeportAddresses', 'masqueradeAll', 'iptablesMasqueradeBit', 'nodeAddresses'] as const;

export class AgentError extends Error {}

export async function trace(opts: TraceOptions, warn: (line: string) => void): Promise<string> {
  if (opts.output !== undefined && opts.output !== 'json') throw new ConfigError(`-o: ${JSON.stringify(opts.output)} is not json (leave it out for text)`);
  const flow = parseFlow(opts);
  let report: TraceReport;
  if (opts.filename) {
    if (opts.agent !== undefined) throw new ConfigError('--agent and -f: trace either asks the agent or reads manifests, not both');
    const decided = decideCluster(loadManifests(opts.filename), loadConfig(opts, warn));
    reportProblems(decided, warn);
    report = traceDecided(decided, flow, opts.nodeAddresses === undefined ? undefined : addresses(opts.nodeAddresses));
  } else {
    const given = OFFLINE_ONLY.filter((k) => opts[k] !== undefined);
    if (given.length > 0) throw new ConfigError(`${given.map(flagName).join(', ')}: only with -f; the agent traces with its own configuration`);
    report = await askAgent(opts.agent ?? DEFAULT_AGENT, flow);
  }
  return opts.output === 'json' ? `${JSON.stringify(report)}\n` : formatReport(flow, report);
}

async function askAgent(agent: string, flow: Flow): Promise<TraceReport> {
  try {
    parseBindAddress(agent);
  } catch {
    throw new ConfigError(`--agent: ${JSON.stringify(agent)} is not host:port`);
  }
  let res: Response;
  try {
    res = await fetch(`http://${agent}/trace?${flowQuery(flow)}`);
  } catch (e) {
    const { cause } = e as { cause?: { code?: string; message?: string } };
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new AgentError(`cannot reach the agent at ${agent} (${why}): is svcrouter run on this node, with its metrics listener there (--metrics-bind-address)?`);
  }
  const body = await res.json().catch(() => ({ error: `not JSON (${res.status})` })) as TraceReport & { error?: string };
  if (!res.ok) throw new AgentError(`the agent at ${agent} answered ${res.status}: ${body.error ?? ''}`);
  return body;
}

function addresses(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const ip = parseIP(s);
    if (!ip) throw new ConfigError(`--node-addresses: ${JSON.stringify(s)} is not an IP address`);
    return ip.ip;
  });
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
