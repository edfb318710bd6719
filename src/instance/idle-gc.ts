/**
 * Gives the JavaScript heap's slack back to the operating system once the server has been quiet for a while.
 *
 * V8 grows its heap under a burst of requests (after a burst of token grants the main heap held ≈ 55 MB for
 * ≈ 32 MB live), and its own memory reducer shrinks it again only once the heap has grown past 1.1 × its size
 * when the reducer last ran + 10 MB: a node that served a burst kept that slack for as long as it stayed idle
 * (bench/RESULTS.md, twenty-second session). After a period of `quietMs` with at most one request a second (a
 * load balancer's health checks leave a node quiet), and only if the heap has grown by `minGrowthBytes` since
 * the last time, this asks V8 for a memory-reducing collection through the in-process inspector protocol
 * (`HeapProfiler.collectGarbage`, V8's low-memory notification: no port is opened, no flag is needed). It blocks
 * the event loop for tens of milliseconds, which only a request arriving in that moment notices.
 * KEYSTAGE_IDLE_GC_SECONDS (0: never).
 */
import { Session } from 'node:inspector';
import v8 from 'node:v8';

export interface IdleGcOptions {
  quietMs: number;
  /** heap growth since the last collection that makes one worth it (default 4 MiB) */
  minGrowthBytes?: number;
  /** after each collection: the heap's size before and after */
  collected?: (before: number, after: number) => void;
  /** the inspector could not be used: no collection is asked for again */
  failed?: (err: unknown) => void;
}

export interface IdleGc {
  /** one more request */
  request(): void;
  stop(): void;
}

const heapSize = () => v8.getHeapStatistics().total_heap_size;

export function startIdleGc(opts: IdleGcOptions): IdleGc {
  const minGrowth = opts.minGrowthBytes ?? 4 * 1024 * 1024;
  let requests = 0;
  let seen = 0;
  // the heap right after the last collection (0: none yet, so the start-up's garbage goes at the first quiet moment)
  let settled = 0;
  // connected only for the collection (nothing of the inspector stays attached between them)
  let session: Session | undefined;
  const tick = () => {
    const quiet = (requests - seen) * 1000 <= opts.quietMs;
    seen = requests;
    if (!quiet || session) return;
    const before = heapSize();
    if (before < settled + minGrowth) return;
    const s = new Session();
    try {
      s.connect();
    } catch (err) {
      stop();
      opts.failed?.(err);
      return;
    }
    session = s;
    s.post('HeapProfiler.collectGarbage', (err) => {
      // (not from inside the session's own callback: a disconnect there never returns)
      setImmediate(() => {
        s.disconnect();
        session = undefined;
      });
      if (err) {
        stop();
        opts.failed?.(err);
        return;
      }
      settled = heapSize();
      opts.collected?.(before, settled);
    });
  };
  const timer = opts.quietMs > 0 ? setInterval(tick, opts.quietMs).unref() : undefined;
  function stop() {
    if (timer) clearInterval(timer);
  }
  return {
    request: () => {
      requests++;
    },
    stop,
  };
}
