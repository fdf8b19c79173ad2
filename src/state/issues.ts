// A problem with one input object. Reported, counted and skipped: it never
// stops the rest of the cluster from being programmed.
import type { Claims } from './claims.js';

export interface Issue {
  /** Where the object came from: "file.yaml#3" (document 3), or "watch". */
  readonly source: string;
  /** "Service default/web", "EndpointSlice default/web-abc12". */
  readonly object: string;
  /** JSON-path-like field, e.g. "spec.ports[1].port"; "" for the whole object. */
  readonly field: string;
  readonly reason: string;
  /** What the skipped object asked for, so that a trace can name it as the reason. */
  readonly claims: Claims;
}

export function formatIssue(i: Issue): string {
  const where = i.field ? `${i.object} field ${i.field}` : i.object;
  return `${i.source}: ${where}: ${i.reason}`;
}

/** Thrown inside a normalizer to reject one object with a precise field. */
export class FieldError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}
