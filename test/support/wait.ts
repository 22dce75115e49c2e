/**
 * Waiting for an observable event (a file, a state, a process group gone)
 * instead of sleeping a fixed time: polls a condition until it holds, with a
 * generous overall deadline sized for a loaded machine. Runtime-neutral (Node
 * and workerd). Never use it to assert how long something took.
 */

/** Long enough for a loaded 2-core machine; shorter than the 120 s test timeout. */
export const WAIT_DEADLINE_MS = 90_000;

/** Resolves once `condition()` is true (checked at once, then every `intervalMs`); throws after the deadline. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { deadlineMs = WAIT_DEADLINE_MS, intervalMs = 25 }: { deadlineMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) throw new Error(`gave up after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolves once at least `ms` milliseconds have passed since `since` (a product time threshold, not synchronisation). */
export async function waitPast(since: number, ms: number): Promise<void> {
  await waitUntil(() => Date.now() - since > ms, `${ms} ms to pass`, { deadlineMs: ms + WAIT_DEADLINE_MS });
}
