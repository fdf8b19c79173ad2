// Kubernetes manifests from files, directories and standard input ("-", as
// kubectl's -f -): YAML or JSON, multi-document, `kind: List` flattened. A
// file that does not parse is an error naming file and line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { SourcedObject } from '../state/build.js';
import type { Raw } from '../state/fields.js';

export class ManifestError extends Error {}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
/** The path that means standard input. */
export const STDIN = '-';

/** Files named directly are read whatever their extension; directories contribute *.yaml, *.yml, *.json. */
export function manifestFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    if (p === STDIN) return [p];
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new ManifestError(`${p}: no such file or directory`);
    }
    if (!st.isDirectory()) return [p];
    return readdirSync(p).sort().flatMap((name) => {
      const full = join(p, name);
      return statSync(full).isDirectory() ? manifestFiles([full]) : MANIFEST_FILE.test(name) ? [full] : [];
    });
  });
}

export function loadManifests(paths: readonly string[]): SourcedObject[] {
  return manifestFiles(paths).flatMap((file) => file === STDIN
    ? parseManifest('<stdin>', readFileSync(process.stdin.fd, 'utf8'))
    : parseManifest(file, readFileSync(file, 'utf8')));
}

export function parseManifest(file: string, text: string): SourcedObject[] {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const line = e.mark ? ` line ${e.mark.line + 1}` : '';
      throw new ManifestError(`${file}:${line}: not valid YAML or JSON: ${e.reason}`);
    }
    throw e;
  }
  const out: SourcedObject[] = [];
  docs.forEach((doc, i) => {
    const source = `${file}#${i + 1}`;
    if (doc === null || doc === undefined) return; // empty document between "---"
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ManifestError(`${source}: document is not a Kubernetes object (got ${Array.isArray(doc) ? 'a list' : typeof doc})`);
    }
    const o = doc as Raw;
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
      // API lists ("ServiceList") omit kind and apiVersion on their items.
      const itemKind = o.kind === 'List' ? undefined : o.kind.slice(0, -'List'.length);
      o.items.forEach((item, j) => {
        if (!item || typeof item !== 'object' || Array.isArray(item)) return;
        const raw = itemKind ? { kind: itemKind, apiVersion: o.apiVersion, ...(item as Raw) } : (item as Raw);
        out.push({ source: `${source}.items[${j}]`, raw });
      });
    } else {
      out.push({ source, raw: o });
    }
  });
  return out;
}
