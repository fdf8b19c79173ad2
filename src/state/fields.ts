// Small typed readers for raw API objects: each either returns a value of the
// expected shape or throws a FieldError naming the field.
import { FieldError } from './issues.js';
import type { Protocol } from './types.js';

export type Raw = Record<string, unknown>;

/** A field svcrouter reads as kube-proxy does rather than as the API server would validate it: what it did instead. */
export interface FieldNote {
  readonly field: string;
  readonly note: string;
}

export function obj(v: unknown, field: string): Raw {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new FieldError(field, 'must be an object');
  return v as Raw;
}

export function arr(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FieldError(field, 'must be a list');
  return v;
}

export function str(v: unknown, field: string, dflt = ''): string {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw new FieldError(field, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new FieldError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function int(v: unknown, field: string, min: number, max: number, dflt?: number): number {
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new FieldError(field, `must be an integer in ${min}-${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function protocol(v: unknown, field: string): Protocol {
  const p = str(v, field, 'TCP');
  if (p === 'TCP' || p === 'UDP' || p === 'SCTP') return p.toLowerCase() as Protocol;
  throw new FieldError(field, `unknown protocol ${JSON.stringify(p)} (want TCP, UDP or SCTP)`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function dnsLabel(v: unknown, field: string): string {
  const s = str(v, field);
  if (!DNS_LABEL.test(s)) throw new FieldError(field, `${quoteShort(s)} is not a valid DNS label (lowercase alphanumerics and '-', at most 63 characters)`);
  return s;
}

export function dnsSubdomain(v: unknown, field: string): string {
  const s = str(v, field);
  if (!DNS_SUBDOMAIN.test(s)) throw new FieldError(field, `${quoteShort(s)} is not a valid DNS subdomain (at most 253 characters)`);
  return s;
}

export function portName(v: unknown, field: string): string {
  const s = str(v, field);
  if (s !== '' && !PORT_NAME.test(s)) throw new FieldError(field, `${quoteShort(s)} is not a valid port name`);
  return s;
}

/** JSON-quoted and cut, so a hostile value cannot flood or break a log line. */
export function quoteShort(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}...` : s);
}
