import { defineConfig } from 'vitest/config';

/** The real-traffic scenarios, which test/support/bed.ts programs in either mode. */
const TRAFFIC = ['test/e2e/clusterip.test.ts', 'test/e2e/external.test.ts', 'test/e2e/policy.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    projects: [
      // The IPVS client, apply and cleanup on a kernel with IPVS.
      { extends: true, test: { name: 'ipvs', include: ['test/vm/**/*.test.ts'] } },
      // The same scenarios as nftables mode, in IPVS mode.
      { extends: true, test: { name: 'ipvs-traffic', include: TRAFFIC, env: { SVCROUTER_E2E_PROXY_MODE: 'ipvs' } } },
      // nftables mode once on the stock 6.1 kernel real clusters run. Not here: incremental.test.ts
      // (8.5 minutes of emulated nft loads), and the agent's suites (agent, faults), whose timings
      // assume a real CPU: in emulation a node process takes seconds to start.
      { extends: true, test: { name: 'nftables-6.1', include: [...TRAFFIC, 'test/e2e/topology.test.ts', 'test/e2e/nft-writer.test.ts', 'test/e2e/cli.test.ts', 'test/e2e/kube-proxy-cleanup.test.ts'] } },
    ],
  },
});
