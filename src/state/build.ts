// Raw API objects -> one ProxyState snapshot, for callers that have them all
// at once (manifests). Bad objects become Issues and are left out; everything
// else is kept. The agent feeds the same tracker one change at a time.
import type { Issue } from './issues.js';
import type { Raw } from './fields.js';
import { StateTracker, type TrackerOptions } from './tracker.js';
import type { ProxyState } from './types.js';

export interface SourcedObject {
  readonly source: string; // "file.yaml#2"
  readonly raw: Raw;
}

export interface BuildResult {
  readonly state: ProxyState;
  readonly issues: Issue[];
  /** Objects deliberately not handled (other kinds, ExternalName, ...), one line each. */
  readonly ignored: string[];
  /** Objects programmed with fields read as kube-proxy reads them, one line each. */
  readonly notes: string[];
}

export function buildState(objects: readonly SourcedObject[], opts: TrackerOptions): BuildResult {
  const tracker = new StateTracker(opts);
  for (const { source, raw } of objects) tracker.upsert(source, raw);
  return { state: tracker.state(), issues: tracker.issues(), ignored: tracker.ignored(), notes: tracker.notes() };
}
