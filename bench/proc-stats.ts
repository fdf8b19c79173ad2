// What /proc says about a process: memory high-water marks and CPU time.
import { readFileSync } from 'node:fs';

/** /proc/PID/stat counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second. */
const TICKS_PER_SECOND = 100;

export function memoryMiB(pid: number): { rssMiB: number; peakRssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: Number((kB('VmRSS') / 1024).toFixed(1)), peakRssMiB: Number((kB('VmHWM') / 1024).toFixed(1)) };
}

export interface CpuSample {
  readonly wallMs: number;
  /** utime + stime of the process itself. */
  readonly ticks: number;
  /** cutime + cstime: children it waited for (nft, conntrack, if it spawns them). */
  readonly childTicks: number;
}

export function cpuSample(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { wallMs: performance.now(), ticks: f[11] + f[12], childTicks: f[13] + f[14] };
}

/** CPU used between two samples, in millicores (1000 = one core busy). */
export function millicores(a: CpuSample, b: CpuSample): { millicores: number; childMillicores: number } {
  const perTick = 1000 / TICKS_PER_SECOND / ((b.wallMs - a.wallMs) / 1000);
  return { millicores: Number(((b.ticks - a.ticks) * perTick).toFixed(1)), childMillicores: Number(((b.childTicks - a.childTicks) * perTick).toFixed(1)) };
}
