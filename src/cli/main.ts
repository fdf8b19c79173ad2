#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=4 --heap-growing-percent=60 --expose-gc --no-memory-reducer
// svcrouter's command line: dump, trace, apply, cleanup, run. Thin: all logic
// lives below. The API client is loaded for `run` only: other commands start fast.
// Run it as this file (the bin, the image's command): its first line gives V8 a
// young generation of 4 MiB semi-spaces instead of 16, and glibc one malloc
// arena; at 10k services they lower the agent's peak RSS by about 15 and 19 MiB
// at no measurable cost in time. Through the cold start V8 collects in full at
// 60% old-generation growth (its own rule allows up to 4x); the agent then
// makes that 30% (heap-collector.ts) and collects its heap itself when it has
// become garbage, so V8's memory reducer, which would collect it again while
// the node is idle, is off (each measured in deploy/README.md's Resources).
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, type FlagValues } from '../config/load.js';
import { ManifestError, STDIN } from '../manifests/load.js';
import { applyScript, deleteTables, NftError } from '../kernel/nft.js';
import { deleteKubeProxyIptables } from '../kernel/kube-proxy-ipvs.js';
import { loadCluster, reportProblems, scriptFor } from './pipeline.js';
import { formatIpvsadm } from '../backends/ipvs/ipvsadm.js';
import { AgentError, DEFAULT_AGENT, trace, type TraceOptions } from './trace.js';
import { FlowError } from '../trace/flow.js';

const warn = (line: string) => process.stderr.write(`${line}\n`);

function withProxyFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'KubeProxyConfiguration (v1alpha1) file; its values win over flags, except --hostname-override')
    .option('--proxy-mode <mode>', 'data plane: nftables (default) or ipvs')
    .option('--hostname-override <name>', 'this node\'s name (default: the host name)')
    .option('--node-ip <ips>', 'node IPs (comma-separated, one per family); default: the Node object\'s addresses')
    .option('--cluster-cidr <cidrs>', 'pod CIDRs, comma-separated (dual-stack)')
    .option('--detect-local-mode <mode>', 'ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix')
    .option('--pod-bridge-interface <name>', 'bridge for --detect-local-mode=BridgeInterface')
    .option('--pod-interface-name-prefix <prefix>', 'interface prefix for --detect-local-mode=InterfaceNamePrefix')
    .option('--nodeport-addresses <list>', 'CIDRs NodePorts answer on, or "primary" (default)')
    .option('--masquerade-all', 'SNAT all traffic sent to ClusterIPs')
    .addOption(new Option('--iptables-masquerade-bit <bit>', 'mark bit used for masquerade (0-31)'))
    .option('--ipvs-scheduler <name>', 'IPVS mode: scheduler of every virtual server (default rr)')
    .option('--ipvs-tcp-timeout <duration>', 'IPVS mode: idle timeout of TCP connections (0 = the kernel\'s)')
    .option('--ipvs-tcpfin-timeout <duration>', 'IPVS mode: timeout of TCP connections after a FIN (0 = the kernel\'s)')
    .option('--ipvs-udp-timeout <duration>', 'IPVS mode: timeout of UDP flows (0 = the kernel\'s)')
    .option('--ipvs-exclude-cidrs <cidrs>', 'IPVS mode: virtual servers in these CIDRs are left alone (comma-separated)')
    .option('--ipvs-strict-arp', 'IPVS mode: set arp_ignore=1 and arp_announce=2');
}

/** svcrouter's tables and IPVS state; with kubeProxy, what kube-proxy's modes leave behind as well. */
async function cleanup(kubeProxy: boolean): Promise<void> {
  await deleteTables(kubeProxy);
  const { deleteIpvsState } = await import('../agent/ipvs-plane.js');
  await deleteIpvsState(kubeProxy);
  if (kubeProxy) await deleteKubeProxyIptables();
}

const VERSION = `svcrouter v${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

const program = new Command('svcrouter').description('kube-proxy replacement: Services -> nftables').showHelpAfterError()
  .version(VERSION, '--version', 'print the version, as kube-proxy --version does');

program.command('version').description('print the version').action(() => console.log(VERSION));

withProxyFlags(program.command('dump'))
  .description('print the nft script that would be programmed (no root needed)')
  .requiredOption('-f, --filename <paths...>', 'manifest files or directories; - reads standard input (kubectl get ... -o yaml | svcrouter dump -f -)')
  .option('--base <paths...>', 'print the incremental transaction from these manifests\' state instead (nftables mode; - reads standard input)')
  .option('--ipvsadm', 'IPVS mode: print only the virtual and real servers, in ipvsadm --save -n syntax')
  .action((opts: FlagValues & { filename: string[]; base?: string[]; ipvsadm?: boolean }) => {
    if (opts.filename.includes(STDIN) && opts.base?.includes(STDIN)) throw new ManifestError('standard input can be read once: give - to -f or to --base, not both');
    const cfg = loadConfig(opts, warn);
    if (cfg.mode === 'ipvs' && opts.base) throw new ConfigError('--base: the incremental transaction is printed in nftables mode only');
    if (opts.ipvsadm && cfg.mode !== 'ipvs') throw new ConfigError('--ipvsadm: needs --proxy-mode ipvs');
    const next = loadCluster(opts.filename, cfg);
    reportProblems(next, warn);
    const base = opts.base ? loadCluster(opts.base, cfg) : undefined;
    process.stdout.write(opts.ipvsadm ? formatIpvsadm(next.ipvs!.virtualServers) : scriptFor(next, base));
  });

withProxyFlags(program.command('trace'))
  .description('where a new connection from --from to --to goes on this node, and why (from manifests, or the running agent)')
  .requiredOption('--from <ip>', 'the client\'s address')
  .requiredOption('--to <ip:port>', 'the destination, IP:PORT or [IPv6]:PORT')
  .option('--protocol <protocol>', 'tcp (default), udp or sctp')
  .option('--from-node', 'the packet is sent by the node itself (else it arrives from a pod or another host)')
  .option('--in-interface <name>', 'the interface it arrives on (read by --detect-local-mode BridgeInterface and InterfaceNamePrefix)')
  .option('-o, --output <format>', 'json: one object (verdict, endpoints, masquerade, service, reason, ...)')
  .option('-f, --filename <paths...>', 'trace through these manifests, as dump reads them (- reads standard input); else ask the agent')
  .option('--node-addresses <ips>', 'with -f: the node\'s own addresses, comma-separated (default: its Node object\'s, or --node-ip)')
  .option('--agent <host:port>', `without -f: the agent's metrics listener, where it answers /trace (default ${DEFAULT_AGENT})`)
  .action(async (opts: TraceOptions) => {
    process.stdout.write(await trace(opts, warn));
  });

withProxyFlags(program.command('apply'))
  .description('program the kernel once from manifests, then exit')
  .requiredOption('-f, --filename <paths...>', 'manifest files or directories; - reads standard input')
  .action(async (opts: FlagValues & { filename: string[] }) => {
    const cfg = loadConfig(opts, warn);
    const next = loadCluster(opts.filename, cfg);
    reportProblems(next, warn);
    if (cfg.mode === 'ipvs') {
      const { IpvsPlane } = await import('../agent/ipvs-plane.js');
      const plane = await IpvsPlane.open(cfg);
      try {
        await plane.commit('replace', { state: next.build.state, decided: [], base: true, all: () => next.policies });
      } finally {
        await plane.close();
      }
      return;
    }
    await applyScript(scriptFor(next));
  });

withProxyFlags(program.command('run'))
  .description('the node agent: watch the API server and keep the kernel programmed')
  .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster)')
  .option('--master <url>', 'API server address (overrides the kubeconfig)')
  .option('--min-sync-period <duration>', 'coalesce changes: syncs start at least this far apart (default 1s; 0 = at once)')
  .option('--sync-period <duration>', 'full resync at least this often (default 30s)')
  .option('--iptables-min-sync-period <duration>', 'kube-proxy\'s older name of --min-sync-period')
  .option('--iptables-sync-period <duration>', 'kube-proxy\'s older name of --sync-period')
  .option('--ipvs-min-sync-period <duration>', 'IPVS mode: --min-sync-period, winning over it')
  .option('--ipvs-sync-period <duration>', 'IPVS mode: --sync-period, winning over it')
  .option('--healthz-bind-address <host:port>', '/healthz and /livez (default 0.0.0.0:10256; "" disables)')
  .option('--metrics-bind-address <host:port>', '/metrics and /proxyMode (default 127.0.0.1:10249; "" disables)')
  .option('--cleanup', 'remove svcrouter\'s and kube-proxy\'s rules, then exit (kube-proxy\'s flag)')
  .option('--v <level>', 'log verbosity, as kube-proxy (0-2 info, 4+ debug)')
  .option('--log-level <level>', 'trace, debug, info, warn or error')
  .allowUnknownOption()
  .allowExcessArguments()
  .action(async (opts: FlagValues & { cleanup?: boolean; v?: string; logLevel?: string }, cmd: Command) => {
    const { createLogger, runUntilSignal } = await import('./run.js');
    const log = createLogger(opts.logLevel ?? (Number(opts.v ?? 0) >= 4 ? 'debug' : 'info'));
    // Existing kube-proxy DaemonSets must start unchanged: flags that do not apply are warned about, not fatal.
    for (const arg of cmd.args.filter((a) => a.startsWith('--'))) log.warn(`flag ${arg.split('=')[0]} does not apply to svcrouter; ignored`);
    if (opts.cleanup) return cleanup(true);
    const cfg = loadConfig(opts, (w) => log.warn(w));
    await runUntilSignal(cfg, log);
  });

program.command('cleanup')
  .description('remove everything svcrouter programmed')
  .option('--kube-proxy', 'also remove kube-proxy\'s state: its nftables tables, its IPVS mode\'s iptables chains and ipsets')
  .action(async (opts: { kubeProxy?: boolean }) => {
    await cleanup(opts.kubeProxy === true);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ConfigError || e instanceof ManifestError || e instanceof NftError || e instanceof FlowError || e instanceof AgentError) {
    warn(`svcrouter: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
