// deploy/*.yaml, checked offline: every object against Kubernetes' OpenAPI
// schemas (kubernetes-models' compiled validators), every field name against
// the API's field list (those validators allow unknown fields, which the API
// server would drop or reject), and the settings that make svcrouter work.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import * as k8s from '@kubernetes/client-node';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { loadConfig } from '../../src/config/load.js';

const deployDir = new URL('../../deploy/', import.meta.url);

type Obj = Record<string, any>;
interface Model { validate(): void }

/** apiVersion/kind -> schema-validating model, and client-node's class naming its fields. */
const kinds: Record<string, { model: new (o: Obj) => Model; fields: string }> = {
  'v1/ServiceAccount': { model: ServiceAccount as never, fields: 'V1ServiceAccount' },
  'v1/ConfigMap': { model: ConfigMap as never, fields: 'V1ConfigMap' },
  'apps/v1/DaemonSet': { model: DaemonSet as never, fields: 'V1DaemonSet' },
  'rbac.authorization.k8s.io/v1/ClusterRole': { model: ClusterRole as never, fields: 'V1ClusterRole' },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': { model: ClusterRoleBinding as never, fields: 'V1ClusterRoleBinding' },
};

function loadDocs(): { file: string; obj: Obj }[] {
  const files = readdirSync(deployDir).filter((f) => /\.ya?ml$/.test(f)).sort();
  return files.flatMap((file) => yaml.loadAll(readFileSync(new URL(file, deployDir), 'utf8'))
    .filter((d) => d !== null && d !== undefined)
    .map((d) => ({ file, obj: d as Obj })));
}

function kindOf(obj: Obj): string {
  return `${obj.apiVersion}/${obj.kind}`;
}

/** Field paths in `value` that the Kubernetes type `type` does not define. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1], `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value as Obj).flatMap(([k, v]) => unknownFields(v, map[1], `${path}.${k}`));
  if (['string', 'number', 'boolean', 'any', 'object', 'Date', 'IntOrString'].includes(type)) return [];
  const cls = (k8s as Record<string, any>)[type];
  if (typeof cls?.getAttributeTypeMap !== 'function') throw new Error(`${path}: no field list for type ${type}`);
  if (typeof value !== 'object' || Array.isArray(value)) return []; // wrong type: validate() reports it
  const attrs: { baseName: string; type: string }[] = cls.getAttributeTypeMap();
  return Object.entries(value as Obj).flatMap(([k, v]) => {
    const a = attrs.find((x) => x.baseName === k);
    return a ? unknownFields(v, a.type, `${path}.${k}`) : [`${path}.${k}`];
  });
}

const docs = loadDocs();
const find = (kind: string): Obj => {
  const hits = docs.filter((d) => kindOf(d.obj) === kind);
  expect(hits, kind).toHaveLength(1);
  return hits[0].obj;
};

describe('deploy/ manifests', () => {
  it('has the expected objects', () => {
    expect(docs.map((d) => `${d.file}: ${kindOf(d.obj)} ${d.obj.metadata?.name}`)).toEqual([
      'configmap.yaml: v1/ConfigMap svcrouter',
      'daemonset.yaml: apps/v1/DaemonSet svcrouter',
      'rbac.yaml: v1/ServiceAccount svcrouter',
      'rbac.yaml: rbac.authorization.k8s.io/v1/ClusterRole svcrouter',
      'rbac.yaml: rbac.authorization.k8s.io/v1/ClusterRoleBinding svcrouter',
    ]);
  });

  it.each(docs.map((d) => [`${d.file}: ${kindOf(d.obj)}`, d.obj] as const))('%s validates against the Kubernetes schema', (_name, obj) => {
    const k = kinds[kindOf(obj)];
    if (!k) throw new Error(`no validator for ${kindOf(obj)}: add it to the test`);
    expect(() => new k.model(obj).validate()).not.toThrow();
    expect(unknownFields(obj, k.fields, kindOf(obj))).toEqual([]);
  });

  it('the validators catch mistakes (negative controls)', () => {
    const ds = structuredClone(find('apps/v1/DaemonSet'));
    const spec = ds.spec.template.spec;

    const badType = structuredClone(ds);
    badType.spec.template.spec.containers = 'svcrouter';
    expect(() => new DaemonSet(badType).validate()).toThrow(/containers must be array/);

    const noName = structuredClone(ds);
    delete noName.spec.template.spec.containers[0].name;
    expect(() => new DaemonSet(noName).validate()).toThrow(/required property/);

    // The schema validator lets a misspelt field through; the field check does not.
    const typo = structuredClone(ds);
    typo.spec.template.spec.hostNetwrk = spec.hostNetwork;
    typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    expect(() => new DaemonSet(typo).validate()).not.toThrow();
    expect(unknownFields(typo, 'V1DaemonSet', 'ds')).toEqual([
      'ds.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem',
      'ds.spec.template.spec.hostNetwrk',
    ]);
  });

  it('DaemonSet: host network, node-critical, NET_ADMIN only, probes on 10256', () => {
    const ds = find('apps/v1/DaemonSet');
    expect(ds.metadata.namespace).toBe('kube-system');
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.serviceAccountName).toBe(find('v1/ServiceAccount').metadata.name);
    expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'svcrouter.io/enabled', operator: 'In', values: ['true'] }] },
    ]);

    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.command).toEqual(['/app/dist/cli/main.js', 'run', '--config=/var/lib/svcrouter/config.conf', '--hostname-override=$(NODE_NAME)']);
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(c.securityContext).toMatchObject({
      capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
      runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
    });
    expect(c.securityContext.privileged).toBeUndefined();
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/livez', port: 10256 });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 10256 });

    // The config file the command names is the ConfigMap's key, mounted there.
    const mount = c.volumeMounts.find((m: Obj) => m.mountPath === '/var/lib/svcrouter');
    const vol = pod.volumes.find((v: Obj) => v.name === mount?.name);
    expect(vol?.configMap?.name).toBe(find('v1/ConfigMap').metadata.name);
    expect(Object.keys(find('v1/ConfigMap').data)).toContain('config.conf');
  });

  it('ConfigMap: config.conf is a KubeProxyConfiguration that svcrouter accepts', () => {
    const text: string = find('v1/ConfigMap').data['config.conf'];
    const conf = yaml.load(text) as Obj;
    expect(conf.kind).toBe('KubeProxyConfiguration');
    expect(conf.apiVersion).toBe('kubeproxy.config.k8s.io/v1alpha1');
    expect(conf.mode).toBe('nftables');
    expect(conf.healthzBindAddress).toBe('0.0.0.0:10256');
    expect(conf.metricsBindAddress).toBe('127.0.0.1:10249');
    expect(conf.nftables).toEqual({ masqueradeBit: 14, masqueradeAll: false, syncPeriod: '1h', minSyncPeriod: '1s' });

    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-deploy-'));
    try {
      const file = join(dir, 'config.conf');
      writeFileSync(file, text);
      const warnings: string[] = [];
      const cfg = loadConfig({ config: file, hostnameOverride: 'node-a' }, (l) => warnings.push(l));
      expect(warnings).toEqual([]);
      expect(cfg).toMatchObject({ hostname: 'node-a', detectLocalMode: 'ClusterCIDR', nodePortAddresses: 'primary', masqueradeBit: 14, masqueradeAll: false });
      expect(cfg.clusterCIDRs.map((c) => c.text)).toEqual(['10.244.0.0/16']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('RBAC: list/watch what svcrouter watches, bound to its ServiceAccount', () => {
    const rules: Obj[] = find('rbac.authorization.k8s.io/v1/ClusterRole').rules;
    const verbsFor = (group: string, resource: string) => new Set(rules
      .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
      .flatMap((r) => r.verbs as string[]));
    for (const [group, resource] of [['', 'services'], ['discovery.k8s.io', 'endpointslices'], ['', 'nodes'], ['networking.k8s.io', 'servicecidrs']]) {
      expect([...verbsFor(group, resource)], `${group}/${resource}`).toEqual(expect.arrayContaining(['list', 'watch']));
    }
    expect(verbsFor('', 'nodes').has('get')).toBe(true);
    for (const group of ['', 'events.k8s.io']) {
      expect([...verbsFor(group, 'events')]).toEqual(expect.arrayContaining(['create', 'patch', 'update']));
    }
    // Read-only otherwise.
    const writes = rules.filter((r) => !r.resources.includes('events')).flatMap((r) => r.verbs as string[])
      .filter((v) => !['get', 'list', 'watch'].includes(v));
    expect(writes).toEqual([]);

    const binding = find('rbac.authorization.k8s.io/v1/ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'svcrouter' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'svcrouter', namespace: 'kube-system' }]);
  });
});
