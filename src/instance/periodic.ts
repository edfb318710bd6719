/**
 * A node's background pass run every so often and on demand, never two at once (a kick during a pass runs one more
 * after it): what the LDAP sources' and the SCIM providers' schedulers share.
 */
export interface Periodic {
  /** a pass now (after the one under way) */
  kick(): void;
  /** no more passes; waits for the one under way */
  stop(): Promise<void>;
}

export function startPeriodic(
  pass: (stopped: () => boolean) => Promise<void>,
  onError: (err: unknown) => void,
  everyMs: number,
  opts: { now?: boolean } = {},
): Periodic {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const look = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass(() => stopped)
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          look();
        }
      });
  };
  const timer = setInterval(look, everyMs).unref();
  if (opts.now) setImmediate(look);
  return {
    kick: () => setImmediate(look),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
