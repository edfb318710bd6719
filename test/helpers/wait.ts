/** Waiting in tests for what happens in the background (a task, a notification): polled, bounded. */

/** `fn` asked every 50 ms until it gives a value (anything but undefined); after `ms` an error naming `what` */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
