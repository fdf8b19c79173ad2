#!/usr/bin/env node
// svcrouter's command line: dump, apply, cleanup. Thin: all logic lives below.
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, type FlagValues } from '../config/load.js';
import { ManifestError } from '../manifests/load.js';
import { applyScript, deleteTables, NftError } from '../kernel/nft.js';
import { loadCluster, reportProblems, scriptFor } from './pipeline.js';

const warn = (line: string) => process.stderr.write(`${line}\n`);

function withProxyFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'KubeProxyConfiguration (v1alpha1) file; its values win over flags, except --hostname-override')
    .option('--proxy-mode <mode>', 'data plane: nftables')
    .option('--hostname-override <name>', 'this node\'s name (default: the host name)')
    .option('--node-ip <ips>', 'node IPs (comma-separated, one per family); default: the Node object\'s addresses')
    .option('--cluster-cidr <cidrs>', 'pod CIDRs, comma-separated (dual-stack)')
    .option('--detect-local-mode <mode>', 'ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix')
    .option('--pod-bridge-interface <name>', 'bridge for --detect-local-mode=BridgeInterface')
    .option('--pod-interface-name-prefix <prefix>', 'interface prefix for --detect-local-mode=InterfaceNamePrefix')
    .option('--nodeport-addresses <list>', 'CIDRs NodePorts answer on, or "primary" (default)')
    .option('--masquerade-all', 'SNAT all traffic sent to ClusterIPs')
    .addOption(new Option('--iptables-masquerade-bit <bit>', 'mark bit used for masquerade (0-31)'));
}

const program = new Command('svcrouter').description('kube-proxy replacement: Services -> nftables').showHelpAfterError();

withProxyFlags(program.command('dump'))
  .description('print the nft script that would be programmed (no root needed)')
  .requiredOption('-f, --filename <paths...>', 'manifest files or directories')
  .option('--base <paths...>', 'print the incremental transaction from these manifests\' state instead')
  .action((opts: FlagValues & { filename: string[]; base?: string[] }) => {
    const cfg = loadConfig(opts, warn);
    const next = loadCluster(opts.filename, cfg);
    reportProblems(next, warn);
    const base = opts.base ? loadCluster(opts.base, cfg) : undefined;
    process.stdout.write(scriptFor(next, base));
  });

withProxyFlags(program.command('apply'))
  .description('program the kernel once from manifests, then exit')
  .requiredOption('-f, --filename <paths...>', 'manifest files or directories')
  .action(async (opts: FlagValues & { filename: string[] }) => {
    const cfg = loadConfig(opts, warn);
    const next = loadCluster(opts.filename, cfg);
    reportProblems(next, warn);
    await applyScript(scriptFor(next));
  });

program.command('cleanup')
  .description('remove everything svcrouter programmed')
  .option('--kube-proxy', 'also remove kube-proxy\'s nftables tables')
  .action(async (opts: { kubeProxy?: boolean }) => {
    await deleteTables(opts.kubeProxy === true);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ConfigError || e instanceof ManifestError || e instanceof NftError) {
    warn(`svcrouter: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
