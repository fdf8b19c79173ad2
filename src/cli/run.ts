// `svcrouter run`: load the kubeconfig, start the agent, stop cleanly on
// SIGTERM/SIGINT leaving the rules in place (a restart must not drop traffic).
// The class alone, not the package's index (src/cli/bundle.mjs says why).
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/load.js';
import { startAgent } from '../agent/agent.js';

export function createLogger(level: string): Logger {
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level)) throw new ConfigError(`--log-level: ${JSON.stringify(level)} is not one of trace, debug, info, warn, error`);
  return pino({ level, base: { component: 'svcrouter' } });
}

/**
 * The kubeconfig (or in-cluster configuration), with --master applied. A
 * plain-HTTP server is used as kubectl uses it (client-node refuses http://
 * unless TLS verification is off, which means nothing without TLS); https
 * servers keep their TLS settings exactly as configured.
 */
export function kubeConfig(cfg: Config, warn: (msg: string) => void): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
    else kc.loadFromCluster();
  } catch (e) {
    throw new ConfigError(`--kubeconfig: cannot load ${cfg.kubeconfig || 'in-cluster configuration'}: ${(e as Error).message}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError(`--kubeconfig: ${cfg.kubeconfig || 'in-cluster configuration'} has no current cluster`);
  const server = cfg.master || cluster.server;
  let plain: boolean;
  try {
    plain = new URL(server).protocol === 'http:';
  } catch {
    throw new ConfigError(`${cfg.master ? '--master' : '--kubeconfig'}: the API server ${JSON.stringify(server)} is not a URL`);
  }
  if (plain) warn(`the API server ${server} is plain HTTP: the connection is not encrypted`);
  if (cfg.master || plain) {
    kc.loadFromClusterAndUser({ ...cluster, server, ...(plain ? { skipTLSVerify: true } : {}) }, kc.getCurrentUser() ?? { name: 'default' });
  }
  return kc;
}

export async function runUntilSignal(cfg: Config, log: Logger): Promise<void> {
  const agent = await startAgent({ cfg, kc: kubeConfig(cfg, (msg) => log.warn(msg)), log });
  log.info({ node: cfg.hostname, mode: cfg.mode }, 'svcrouter started');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping; rules stay in place');
      void agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
