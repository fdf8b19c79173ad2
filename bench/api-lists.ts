// The four lists the agent makes at start, made as it makes them
// (src/k8s/informers.ts, src/k8s/reflector.ts) and nothing more: Services and
// EndpointSlices with kube-proxy's label selector, this node's Node by field
// selector, ServiceCIDRs; all four at once, each in pages of 500 read whole
// and parsed (the continue token is in the page).
import { request } from 'node:http';
import { PROXY_LABEL_SELECTOR } from '../src/k8s/informers.js';
import { NODE_NAME, type Raw } from './synthetic-cluster.js';

/** The agent's page size (ReflectorOptions.pageSize's default). */
const PAGE_SIZE = 500;

const LISTS: { path: string; apiVersion: string; kind: string; selectors: Record<string, string> }[] = [
  { path: '/api/v1/services', apiVersion: 'v1', kind: 'Service', selectors: { labelSelector: PROXY_LABEL_SELECTOR } },
  { path: '/apis/discovery.k8s.io/v1/endpointslices', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', selectors: { labelSelector: PROXY_LABEL_SELECTOR } },
  { path: '/api/v1/nodes', apiVersion: 'v1', kind: 'Node', selectors: { fieldSelector: `metadata.name=${NODE_NAME}` } },
  { path: '/apis/networking.k8s.io/v1/servicecidrs', apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', selectors: {} },
];

export interface Listed {
  readonly pages: number;
  readonly items: number;
  /** Response bodies, all pages (ASCII JSON: characters are bytes). */
  readonly bytes: number;
}

/** Pages through all four lists of the API server at `server`; `onItem` gets each object, with its kind set as the agent sets it. */
export async function pageThroughLists(server: string, token: string, onItem: (o: Raw) => void = () => {}): Promise<Listed> {
  const counts = await Promise.all(LISTS.map(async ({ path, apiVersion, kind, selectors }) => {
    const total = { pages: 0, items: 0, bytes: 0 };
    let cont = '';
    do {
      const query = new URLSearchParams({ ...selectors, limit: String(PAGE_SIZE), ...(cont ? { continue: cont } : {}) });
      const body = await get(`${server}${path}?${query}`, token);
      const page = JSON.parse(body) as { metadata?: { continue?: string }; items?: Raw[] };
      for (const item of page.items ?? []) onItem(Object.assign(item, { apiVersion, kind }));
      total.pages++;
      total.items += page.items?.length ?? 0;
      total.bytes += body.length;
      cont = page.metadata?.continue ?? '';
    } while (cont !== '');
    return total;
  }));
  return counts.reduce((a, b) => ({ pages: a.pages + b.pages, items: a.items + b.items, bytes: a.bytes + b.bytes }));
}

function get(url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Accept: 'application/json', Authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', reject);
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}
