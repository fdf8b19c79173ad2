// Teardown that runs however the bench ends: normally, on an exception, or
// on SIGINT/SIGTERM. Tasks are synchronous because 'exit' handlers must be.
const tasks = new Set<() => void>();

/** Registers a task; the returned function unregisters it (after a normal teardown). */
export function atExit(task: () => void): () => void {
  tasks.add(task);
  return () => tasks.delete(task);
}

process.on('exit', () => {
  for (const task of tasks) {
    try {
      task();
    } catch {
      // best effort: the other tasks must still run
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));
