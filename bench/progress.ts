// One progress line on stderr while the bench runs: rewritten in place on a
// terminal, one line per step otherwise (a log file then shows every step).
const started = Date.now();
const tty = process.stderr.isTTY === true;

const elapsed = () => {
  const s = Math.floor((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** A new step: always shown. */
export function step(msg: string): void {
  process.stderr.write(tty ? `\r\x1b[K[${elapsed()}] ${msg}` : `[${elapsed()}] ${msg}\n`);
}

/** A counter within a step: shown on a terminal only. */
export function tick(msg: string): void {
  if (tty) process.stderr.write(`\r\x1b[K[${elapsed()}] ${msg}`);
}

export function done(): void {
  if (tty) process.stderr.write('\r\x1b[K');
}

export const elapsedSeconds = () => (Date.now() - started) / 1000;
