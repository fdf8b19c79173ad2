// `svcrouter dump --proxy-mode ipvs`: the whole plan as one text that `nft -f`
// still accepts. The helper tables as nftables mode prints its own, then the
// addresses to bind and the virtual servers as comments.
import { renderTables } from '../nftables/render.js';
import { formatIpvsadm } from './ipvsadm.js';
import { DUMMY_LINK, type IpvsPlan } from './model.js';

export function renderIpvsPlan(plan: IpvsPlan): string {
  const addresses = [...plan.addresses.ipv4.map((a) => `${a}/32`), ...plan.addresses.ipv6.map((a) => `${a}/128`)];
  return [
    renderTables(plan.tables).trimEnd(),
    `# addresses on ${DUMMY_LINK} (a dummy link, down):`,
    ...addresses.map((a) => `#   ${a}`),
    '# virtual and real servers (ipvsadm -Sn syntax):',
    ...formatIpvsadm(plan.virtualServers).trimEnd().split('\n').filter((l) => l !== '').map((l) => `#   ${l}`),
  ].join('\n') + '\n';
}
