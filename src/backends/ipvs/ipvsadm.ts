// Virtual and real servers in `ipvsadm --save -n` syntax, which `ipvsadm -R`
// reads back. Ordered so that a node's `ipvsadm -Sn` can be brought into the
// same order with sort (see the README): by the service argument, its -A line
// first, then its -a lines; all in byte order.
import { compareArgs } from './store.js';
import { ServiceFlags } from '../../kernel/ipvs/model.js';
import { hostPort, persistenceOf, serviceArg, type VirtualServer } from './model.js';

export function formatIpvsadm(servers: readonly VirtualServer[]): string {
  const rows: { key: string; kind: 0 | 1; line: string }[] = [];
  for (const vs of servers) {
    const arg = serviceArg(vs);
    rows.push({ key: arg, kind: 0, line: `-A ${arg} ${serviceOptions(vs)}` });
    for (const rs of vs.reals) rows.push({ key: arg, kind: 1, line: `-a ${arg} -r ${hostPort(rs.address, rs.port)} -m -w ${rs.weight}` });
  }
  rows.sort((a, b) => compareArgs(a.key, b.key) || a.kind - b.kind || compareArgs(a.line, b.line));
  return rows.map((r) => `${r.line}\n`).join('');
}

/** As ipvsadm prints them: scheduler, scheduler flags, persistence (a mask only when not one address). */
function serviceOptions(vs: VirtualServer): string {
  let out = `-s ${vs.scheduler}`;
  if (vs.flags & ServiceFlags.sched2) out += ` -b ${vs.scheduler === 'mh' || vs.scheduler === 'sh' ? `${vs.scheduler}-port` : 'flag-2'}`;
  const persistence = persistenceOf(vs);
  if (persistence > 0) out += ` -p ${persistence}`;
  return out;
}
