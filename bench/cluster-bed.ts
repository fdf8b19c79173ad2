// Where the agent runs and what it watches: a node namespace, and the fake
// API server (in this process, over the API veth) holding a synthetic
// cluster. With `realistic`, every object the API serves is dressed as a real
// API server returns it (realistic-objects.ts): the initial ones, and each
// write the bench makes while the agent runs, stamped with its time.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTopology, type Topology } from '../test/support/topology.js';
import { startFakeApiServer, type FakeApiServer } from '../test/support/fake-apiserver.js';
import { writeKubeconfig } from '../test/support/agent-process.js';
import { dress } from './realistic-objects.js';
import type { Raw } from './synthetic-cluster.js';
import { uniqueName } from './workspace.js';

export interface ClusterBed {
  readonly topo: Topology;
  readonly api: FakeApiServer;
  readonly token: string;
  readonly kubeconfig: string;
  /** Creates or replaces an object, as the API server would at this moment; returns its resourceVersion. */
  write(o: Raw): number;
  destroy(): Promise<void>;
}

const TOKEN = 'bench-token';

/** The API server's timestamps: ISO 8601 in whole seconds. */
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export async function startClusterBed(objects: readonly Raw[], realistic: boolean): Promise<ClusterBed> {
  const topo = await createTopology({ prefix: uniqueName(), pods: [], apiLink: true });
  let api: FakeApiServer | undefined;
  let kubeconfig: string | undefined;
  const destroy = async () => {
    await api?.stop();
    await topo.destroy();
    if (kubeconfig) rmSync(dirname(kubeconfig), { recursive: true, force: true });
  };
  try {
    // Real API servers send a bookmark about once a minute; history is kept long enough that no watch restart relists.
    api = await startFakeApiServer({ host: topo.apiHost, token: TOKEN, bookmarkIntervalMs: 60_000, historyLimit: 1_000_000 });
    for (const o of objects) api.upsert(realistic ? dress(o) : o);
    kubeconfig = writeKubeconfig(api.url, TOKEN);
    const server = api;
    return {
      topo, api: server, token: TOKEN, kubeconfig, destroy,
      write: (o) => Number(server.upsert(realistic ? dress(o, now()) : o)),
    };
  } catch (e) {
    await destroy();
    throw e;
  }
}
