// Polls a condition until it holds, or fails naming what was awaited.
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000, everyMs = 100): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
