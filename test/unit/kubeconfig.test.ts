// A kubeconfig kubectl accepts, svcrouter accepts: plain HTTP servers are used
// as given (with a warning), and https servers keep TLS verification exactly
// as configured. Checked end to end: kubeConfig() -> the reflector -> the fake
// API server, over HTTP and over HTTPS with a self-signed certificate.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfig } from '../../src/cli/run.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { Reflector } from '../../src/k8s/reflector.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { service } from '../support/manifests.js';

const TOKEN = 'kc-token';
const dir = mkdtempSync(join(tmpdir(), 'svcrouter-kc-'));
let tls: { key: string; cert: string };
let api: FakeApiServer | undefined;
let reflector: Reflector | undefined;

beforeAll(() => {
  // A self-signed certificate for 127.0.0.1, good for a day: its own CA.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=fake-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
});

afterEach(async () => {
  await reflector?.stop();
  await api?.stop();
  reflector = api = undefined;
});

function writeKubeconfig(cluster: Record<string, unknown>): string {
  const file = join(dir, `kubeconfig-${Math.random().toString(16).slice(2)}`);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'k', cluster }], users: [{ name: 'u', user: { token: TOKEN } }], contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  }));
  return file;
}

/** Lists Services through the kubeconfig: resolves with the names seen once synced, or the errors of the failed tries. */
async function listThrough(file: string, warnings: string[]): Promise<{ synced: boolean; names: string[]; errors: string[] }> {
  const names: string[] = [];
  const errors: string[] = [];
  reflector = new Reflector({
    kc: kubeConfig({ ...DEFAULT_CONFIG, kubeconfig: file }, (w) => warnings.push(w)), path: '/api/v1/services',
    onEvent: (_type, o) => names.push(o.metadata.name), backoffMs: { initial: 50, max: 100 },
    log: (_level, _msg, fields) => errors.push(String(fields?.error ?? '')),
  });
  reflector.start();
  const synced = await Promise.race([reflector.synced.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1500))]);
  return { synced, names, errors };
}

async function serve(opts: { tls?: boolean } = {}): Promise<FakeApiServer> {
  api = await startFakeApiServer({ token: TOKEN, ...(opts.tls ? { tls } : {}) });
  api.upsert(service('web', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }));
  return api;
}

describe('kubeconfig', () => {
  it('connects to a plain-HTTP server as kubectl does, and warns that it is unencrypted', async () => {
    const { url } = await serve();
    const warnings: string[] = [];
    const r = await listThrough(writeKubeconfig({ server: url }), warnings);
    expect(r).toMatchObject({ synced: true, names: ['web'] });
    expect(warnings).toEqual([`the API server ${url} is plain HTTP: the connection is not encrypted`]);
  });

  it('verifies an https server against the configured CA', async () => {
    const { url } = await serve({ tls: true });
    const warnings: string[] = [];
    const r = await listThrough(writeKubeconfig({ server: url, 'certificate-authority-data': Buffer.from(tls.cert).toString('base64') }), warnings);
    expect(r).toMatchObject({ synced: true, names: ['web'] });
    expect(warnings).toEqual([]);
  });

  it('refuses an https server it cannot verify, and keeps retrying', async () => {
    const { url } = await serve({ tls: true });
    const r = await listThrough(writeKubeconfig({ server: url }), []);
    expect(r.synced).toBe(false);
    expect(r.names).toEqual([]);
    expect(r.errors.length).toBeGreaterThan(1);
    expect(r.errors[0]).toMatch(/self[- ]signed certificate/);
  });

  it('skips verification of an https server only when the kubeconfig says so', async () => {
    const { url } = await serve({ tls: true });
    const r = await listThrough(writeKubeconfig({ server: url, 'insecure-skip-tls-verify': true }), []);
    expect(r).toMatchObject({ synced: true, names: ['web'] });
  });

  it('--master overrides the server, and a server that is not a URL is a clear error', async () => {
    const { url } = await serve();
    const warnings: string[] = [];
    reflector = new Reflector({
      kc: kubeConfig({ ...DEFAULT_CONFIG, kubeconfig: writeKubeconfig({ server: 'https://192.0.2.1:6443' }), master: url }, (w) => warnings.push(w)),
      path: '/api/v1/services', onEvent: () => {},
    });
    reflector.start();
    await reflector.synced;
    expect(warnings).toHaveLength(1);
    expect(() => kubeConfig({ ...DEFAULT_CONFIG, kubeconfig: writeKubeconfig({ server: 'not a url' }) }, () => {})).toThrow(/--kubeconfig: the API server "not a url" is not a URL/);
  });
});
