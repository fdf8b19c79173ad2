// A trace for a person: the flow, its steps in order, and the verdict.
import { describeFlow, type Flow } from './flow.js';
import type { TraceReport } from './trace.js';

export function formatReport(flow: Flow, r: TraceReport): string {
  const origin = flow.fromNode ? 'sent by the node itself' : flow.inInterface ? `arriving on ${flow.inInterface}` : 'from a pod or another host';
  return [`${describeFlow(flow)}, ${origin}`, ...r.steps.map((s, i) => `  ${i + 1}. ${s}`), `=> ${r.reason}`, ''].join('\n');
}
