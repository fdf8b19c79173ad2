// A kernel refusal, named: what was asked, then the errno's name and text,
// e.g. "add real server 10.0.0.5:8080 to TCP 10.96.0.1:80: ESRCH (No such process)".
import { getSystemErrorMap } from 'node:util';

export class NetlinkError extends Error {
  /** The errno name, e.g. "ESRCH". */
  readonly code: string;

  constructor(what: string, readonly errno: number) {
    const [code, text] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
    super(`${what}: ${code} (${text.charAt(0).toUpperCase()}${text.slice(1)})`);
    this.code = code;
  }
}

NetlinkError.prototype.name = 'NetlinkError';
